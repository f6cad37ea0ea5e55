"""Tells the test's stand-in service that it runs (its call id and node) at data["url"], and
returns once the stand-in answers: the stand-in counts each call's runs, and may hold its answer
(the call keeps running meanwhile). Without a url it returns at once."""

import os
import urllib.request


def handle(data, function_call_info):
    call_id = function_call_info["call_id"]
    node = os.environ.get("FNHOST_NODE")
    if data.get("url"):
        request = urllib.request.Request(f"{data['url']}/runs/{call_id}/{node}", method="POST")
        with urllib.request.urlopen(request, timeout=120) as answer:
            answer.read()
    return {"call": call_id, "node": node}
