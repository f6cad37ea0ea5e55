import time


def handle(data):
    for i in range(data.get("ticks", 5)):
        print(f"tick {i}", flush=True)
        time.sleep(data.get("interval", 0.5))
    return {"ticks": data.get("ticks", 5)}
