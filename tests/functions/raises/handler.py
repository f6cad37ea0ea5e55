def helper(value):
    raise ValueError(f"bad value {value}")


def handle(data):
    print("about to fail")
    return helper(data.get("v"))
