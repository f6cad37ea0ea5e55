def handle(data):
    return {"wrapped": True}
