import sys
import time


def handle(data):
    for i in range(data.get("lines", 10)):
        print(f"line {i}", flush=True)
        if data.get("stderr"):
            print(f"err {i}", file=sys.stderr, flush=True)
    time.sleep(data.get("linger", 0))
    return {"printed": data.get("lines", 10)}
