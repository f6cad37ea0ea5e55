"""The benchmark's function as the peers run it: plain code, no imports beyond the standard
library (an RQ work horse imports this module afresh for every job)."""

import time
from typing import Any


def add_one(data: dict[str, Any]) -> dict[str, Any]:
    """Identical to benchmarks/function/handler.py."""
    return {"x": data["x"] + 1}


def hold(data: dict[str, Any]) -> dict[str, Any]:
    """Stays alive for a moment so that the process running it can be measured."""
    time.sleep(data["seconds"])
    return add_one(data)
