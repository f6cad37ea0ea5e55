def handle(data):
    return "x" * data["size"]
