"""Opens files until something stops it."""


def handle(data):
    held = []
    while True:
        held.append(open("/dev/null"))  # noqa: SIM115 - held open on purpose
