def handle(data)
    return data
