def handle(client):
    # What a hostile function could do with its call's credentials: hand them out.
    _name, value = client.config.credentials.authorization_header()
    return {"token": value.removeprefix("Bearer "), "functions": len(client.functions.list())}
