"""Tries to read, list and write what belongs to the platform; reports what it managed."""

import os


def _attempt(action, path):
    try:
        if action == "read":
            with open(path, "rb") as file:
                file.read(16)
        elif action == "list":
            os.listdir(path)
        else:
            with open(os.path.join(path, "planted"), "w") as file:
                file.write("x")
    except OSError as error:
        return type(error).__name__
    return "ok"


def handle(data):
    return {
        "read": {path: _attempt("read", path) for path in data["read"]},
        "list": {path: _attempt("list", path) for path in data["list"]},
        "write": {path: _attempt("write", path) for path in data["write"]},
        "uid": os.getuid(),
    }
