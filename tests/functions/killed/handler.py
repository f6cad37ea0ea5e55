import os
import signal


def handle():
    os.kill(os.getpid(), signal.SIGKILL)
