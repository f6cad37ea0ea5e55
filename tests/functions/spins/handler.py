"""Spins for `seconds` of wall time and reports the CPU it got, in cores (CPU time / wall time)."""

import time


def handle(data):
    seconds = data.get("seconds", 2)
    wall_start, cpu_start = time.monotonic(), time.process_time()
    while time.monotonic() - wall_start < seconds:
        pass
    wall = time.monotonic() - wall_start
    return {"cores": (time.process_time() - cpu_start) / wall, "wall": wall}
