def handle(data, client):
    print("adding one")
    return {"x": (data or {}).get("x", 0) + 1}
