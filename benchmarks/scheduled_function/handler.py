import time


def handle(data):
    # When user code really began, on the same clock as the call's scheduledTime.
    return {"started_ms": time.time() * 1000}
