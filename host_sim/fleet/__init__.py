"""`gatekiosk-sim fleet`: a district of gates against a broker cluster, in a few processes.

Each simulated gate is the firmware's real `Outbox` and `MqttLink` with its own device id, data
directory and stream (`gate.py`); a worker process holds a few hundred of them and makes their
traffic (`worker.py`); the community-server stand-in shares the load over several consumer
processes, commits to SQLite and acks (`server.py`); `run.py` starts the parts, injects the
faults of a scenario and adds up the summary; `cli.py` is the command line.
"""
