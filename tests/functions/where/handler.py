"""Says where it ran: the node (FNHOST_NODE) and the uid. Prints a line first; then waits for
a byte on `port` (the test sends it once it has seen that line), or sleeps `seconds`."""

import os
import socket
import time


def handle(data):
    print(f"started on {os.environ.get('FNHOST_NODE')}", flush=True)
    if "port" in data:
        with socket.create_connection(("127.0.0.1", data["port"]), timeout=30) as connection:
            connection.recv(1)
    time.sleep(data.get("seconds", 0))
    return {"node": os.environ.get("FNHOST_NODE"), "uid": os.getuid()}
