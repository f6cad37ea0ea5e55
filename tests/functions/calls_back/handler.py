"""Uses its `client` to call back to the server that runs it."""


def handle(client):
    return {"functions": len(client.functions.list(limit=-1)), "base_url": client.config.base_url}
