"""Prints without end."""


def handle(data):
    line = "x" * 200
    while True:
        print(line)
