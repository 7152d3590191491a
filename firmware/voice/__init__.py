"""The kiosk's voice: prompts synthesised at install time with espeak-ng (`build`), earcons, and
a player thread that plays them through ALSA without holding up the gate (`player`).
"""
