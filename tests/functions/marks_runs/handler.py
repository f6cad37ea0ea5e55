"""Leaves a mark for each run (its call id, a line in data["dir"]/runs); a slow call then waits
until data["dir"]/gate exists and sleeps data["seconds"]. Counts how often each call's code
ran. Needs FNHOST_SANDBOX=none (the sandbox lets a call write only its own /tmp)."""

import os
import time

GATE_WAIT_SECONDS = 120


def handle(data, function_call_info):
    call_id = function_call_info["call_id"]
    with open(os.path.join(data["dir"], "runs"), "a") as runs:
        runs.write(f"{call_id}\n")  # one short write: whole lines even from many processes
    if data["seconds"]:
        deadline = time.monotonic() + GATE_WAIT_SECONDS
        while not os.path.exists(os.path.join(data["dir"], "gate")):
            if time.monotonic() > deadline:
                raise TimeoutError("the gate never opened")
            time.sleep(0.05)
        time.sleep(data["seconds"])
    return {"call": call_id}
