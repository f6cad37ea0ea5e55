import time


def handle(data):
    print("start", flush=True)
    time.sleep(data.get("seconds", 1))
    print("end", flush=True)
    return {"i": data.get("i")}
