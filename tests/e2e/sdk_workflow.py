"""The spec's section 6 workflow, run by an interpreter with some cognite-sdk version installed.

Usage: python sdk_workflow.py BASE_URL TOKEN PROJECT FUNCTIONS_DIR. Prints one JSON object of
observations; the calling test asserts on them. Standalone: imports only the SDK.
"""

import json
import sys
import time

from cognite.client import ClientConfig, CogniteClient, global_config
from cognite.client.credentials import Token
from cognite.client.exceptions import CogniteAPIError, CogniteNotFoundError

global_config.disable_pypi_version_check = True


def main() -> None:
    base_url, token, project, functions_dir = sys.argv[1:5]
    client = CogniteClient(
        ClientConfig(
            client_name="sdk-workflow",
            project=project,
            base_url=base_url,
            credentials=Token(token),
        )
    )
    seen: dict = {}
    function = client.functions.create(
        name="wf",
        folder=f"{functions_dir}/echo_all",
        external_id="wf",
        secrets={"k": "v"},
        env_vars={"GREETING": "hey"},
        metadata={"m": "1"},
    )
    seen["created_status"] = function.status
    deadline = time.monotonic() + 120
    while function.status not in ("Ready", "Failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        function = client.functions.retrieve(id=function.id)
    seen["status"] = function.status
    call = function.call(data={"n": 5}, wait=True)
    seen["call_status"] = call.status
    response = call.get_response()
    seen["response_data"] = response["data"]
    seen["response_secrets"] = response["secrets"]
    seen["response_env"] = response["env"]
    seen["logs"] = [entry.message for entry in call.get_logs()]
    for _ in range(2):
        function.call(data={"n": 0}, wait=True)
    seen["calls_listed"] = len(client.functions.calls.list(function_id=function.id, limit=-1))
    seen["calls_completed"] = len(
        client.functions.calls.list(function_id=function.id, status="Completed", limit=2)
    )
    seen["retrieved_call_status"] = client.functions.calls.retrieve(
        call_id=call.id, function_id=function.id
    ).status
    seen["unknown_function"] = client.functions.retrieve(id=987654321) is None
    seen["unknown_call"] = (
        client.functions.calls.retrieve(call_id=987654321, function_id=function.id) is None
    )
    try:
        client.functions.create(name="wf2", folder=f"{functions_dir}/ok", external_id="wf")
        seen["duplicate"] = "no error"
    except CogniteAPIError as error:
        # v8 raises CogniteDuplicatedError; v7 and v6 a CogniteAPIError carrying `duplicated`.
        seen["duplicate"] = error.duplicated
        seen["duplicate_status"] = error.code
    seen["metadata_after_duplicate"] = client.functions.retrieve(external_id="wf").metadata
    limits = client.functions.limits()
    seen["limits_runtimes"] = limits.runtimes
    seen["status_endpoint"] = client.functions.status().status
    seen["activate"] = client.functions.activate().status
    seen["listed"] = [f.external_id for f in client.functions.list()]
    client.functions.delete(external_id="wf")
    seen["after_delete"] = client.functions.retrieve(external_id="wf") is None
    try:
        client.functions.delete(external_id="wf")
        seen["delete_again"] = "no error"
    except CogniteNotFoundError:
        seen["delete_again"] = "not found"
    sys.stdout.write(json.dumps(seen) + "\n")


if __name__ == "__main__":
    main()
