"""The simulator's live view: a local web page over the running compound (server.py)."""
