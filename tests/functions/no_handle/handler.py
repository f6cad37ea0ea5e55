def handler(data):
    return data
