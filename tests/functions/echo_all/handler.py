import logging
import os


def handle(data, secrets, function_call_info, client):
    print("got", data)
    logging.getLogger("user").warning("a warning via logging")
    return {
        "data": data,
        "secrets": secrets,
        "info": function_call_info,
        "env": os.environ.get("GREETING"),
        "client": type(client).__name__,
        "project": client.config.project,
        "functions_seen": [f.id for f in client.functions.list(limit=-1)],
    }
