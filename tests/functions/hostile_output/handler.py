"""Prints without end: lines, or (data {"newlines": false}) one endless line."""

import sys


def handle(data):
    end = "\n" if (data or {}).get("newlines", True) else ""
    chunk = "x" * 200 + end
    while True:
        sys.stdout.write(chunk)
