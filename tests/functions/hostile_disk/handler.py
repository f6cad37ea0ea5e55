"""Fills the disk: one ever-growing file, or many files until the space runs out."""

import os
import tempfile


def handle(data):
    chunk = b"\0" * (1024 * 1024)
    directory = tempfile.gettempdir()
    if data["mode"] == "one_file":
        with open(os.path.join(directory, "big"), "wb") as file:
            while True:
                file.write(chunk)
                file.flush()
    index = 0
    while True:
        with open(os.path.join(directory, f"part-{index}"), "wb") as file:
            for _ in range(4):
                file.write(chunk)
                file.flush()
        index += 1
