from .util import double


def handle(data):
    return {"doubled": double(data["x"])}
