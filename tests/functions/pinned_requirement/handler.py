import importlib.util

import tabulate


def handle(data):
    return {
        "tabulate": tabulate.__version__,
        "table": tabulate.tabulate([[1, 2]], tablefmt="plain"),
        # The server's own packages must not leak into function environments.
        "sees_fastapi": importlib.util.find_spec("fastapi") is not None,
    }
