import subprocess
import time


def handle(data):
    # A child process too: a timeout must kill the whole process group.
    subprocess.Popen(["sleep", "300"])
    print("sleeping", flush=True)
    time.sleep(data.get("seconds", 300))
    return {"slept": True}
