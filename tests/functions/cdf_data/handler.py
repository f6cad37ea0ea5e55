"""A typical Cognite function: writes and reads CDF data through `client`, and calls fnhost's own
Functions API with the same client."""

from cognite.client.data_classes import TimeSeriesWrite
from cognite.client.exceptions import CogniteAPIError


def handle(client, data):
    external_id = data["external_id"]
    created = client.time_series.create(TimeSeriesWrite(external_id=external_id, name="level"))
    listed = client.time_series.list(limit=10)
    client.time_series.data.insert(
        [(1_700_000_000_000, 1.5), (1_700_000_060_000, 2.5)], external_id=external_id
    )
    try:
        client.time_series.retrieve(external_id="forbidden")  # the stand-in refuses it: 403
        refused = None
    except CogniteAPIError as error:
        refused = {"type": type(error).__name__, "code": error.code, "message": error.message}
    return {
        "project": client.config.project,
        "created": created.external_id,
        "listed": [series.external_id for series in listed],
        "refused": refused,
        "functions": [function.name for function in client.functions.list()],
    }
