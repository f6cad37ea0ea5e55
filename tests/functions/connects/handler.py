"""Connects to a TCP port and reports whether it could."""

import socket


def handle(data):
    try:
        socket.create_connection(("127.0.0.1", data["port"]), timeout=5).close()
    except OSError as error:
        return {"connected": False, "error": type(error).__name__}
    return {"connected": True}
