def handle():
    return {"when": object()}
