import time


def handle(data):
    # Alive long enough for the benchmark to sample the call process's memory.
    time.sleep(data["seconds"])
    return {"x": data["x"] + 1}
