"""Starts `children` processes that each allocate `bytes` (below the per-process limit) and
wait; together they need far more than the function's memory. Reports which instance ran it,
and the cgroups it ran in."""

import subprocess
import sys
import uuid

INSTANCE = uuid.uuid4().hex  # drawn once, when the instance imports the handler
CHILD = "import sys, time\nkept = bytearray(b'x') * int(sys.argv[1])\ntime.sleep(60)\n"


def handle(data):
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(data["bytes"])])
        for _ in range(data.get("children", 0))
    ]
    for child in children:
        child.wait()
    with open("/proc/self/cgroup") as cgroups:
        return {
            "instance": INSTANCE,
            "exit_codes": [child.returncode for child in children],
            "cgroups": cgroups.read(),
        }
