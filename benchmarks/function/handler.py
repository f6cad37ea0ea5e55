def handle(data):
    return {"x": data["x"] + 1}
