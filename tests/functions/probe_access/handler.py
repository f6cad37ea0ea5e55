import hashlib

from cognite.client import ClientConfig, CogniteClient
from cognite.client.exceptions import CogniteAPIError


def _status(action):
    try:
        action()
    except CogniteAPIError as error:
        return error.code
    return 200


def handle(client, function_call_info, secrets):
    other = CogniteClient(
        ClientConfig(
            client_name="probe",
            project="someone-elses-project",
            base_url=client.config.base_url,
            credentials=client.config.credentials,
        )
    )
    own = client.functions.retrieve(id=function_call_info["function_id"])
    return {
        "secrets_via_api": own.secrets,
        # Digests prove the secrets arrived without putting them in the stored response.
        "secret_digests": {k: hashlib.sha256(v.encode()).hexdigest() for k, v in secrets.items()},
        "list_functions": _status(lambda: client.functions.list()),
        "upload_file": _status(lambda: client.files.upload_bytes(b"x", name="x.txt")),
        "other_project": _status(lambda: other.functions.list()),
    }
