"""Prints a line a tick. With `gate` (a port on 127.0.0.1), it waits after the first line until
whoever listens there sends a byte: a test decides when the call goes on."""

import socket
import time


def handle(data):
    for i in range(data.get("ticks", 5)):
        print(f"tick {i}", flush=True)
        if i == 0 and data.get("gate"):
            with socket.create_connection(("127.0.0.1", data["gate"]), timeout=60) as gate:
                gate.recv(1)
        time.sleep(data.get("interval", 0.5))
    return {"ticks": data.get("ticks", 5)}
