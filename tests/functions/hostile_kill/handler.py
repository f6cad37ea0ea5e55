"""Tries to kill the server, then its parent process (its function's instance)."""

import os
import signal
import time


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as error:
        return type(error).__name__
    return "sent"


def handle(data):
    print("server:", _kill(data["server_pid"]), flush=True)
    print("parent:", _kill(os.getppid()), flush=True)
    time.sleep(5)  # the instance's end takes this call with it
    return {"survived": True}
