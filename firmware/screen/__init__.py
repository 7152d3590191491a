"""The kiosk's screen: a local web page served by the firmware, shown full-screen by Chromium.

`server.ScreenServer` serves the page, its assets and the CJK fonts, and pushes each display
state over server-sent events; `face.open_face` starts it (and the voice) beside the gate.
"""
