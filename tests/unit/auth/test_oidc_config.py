import json
from pathlib import Path

import pytest

from fnhost.auth import capabilities as caps
from fnhost.auth import oidc_config

TOML = """
[[issuers]]
issuer = "https://idp.example.com"
audience = "fnhost"
jwks_url = "https://idp.example.com/keys"

[[issuers.groups]]
source_id = "readers"
projects = ["demo"]
capabilities = ["functionsAcl:READ"]

[[issuers.groups]]
source_id = "admins"
projects = ["*"]
capabilities = ["functionsAcl:WRITE"]
"""


def test_load_toml_maps_groups_to_grants(tmp_path: Path) -> None:
    path = tmp_path / "oidc.toml"
    path.write_text(TOML)
    (issuer,) = oidc_config.load(path).issuers
    assert issuer.groups_claim == "groups" and issuer.algorithms == ("RS256",)
    readers, admins = issuer.grants(["readers", "admins", "unrelated"])
    assert readers.projects == {"demo"} and readers.capabilities == {caps.FUNCTIONS_READ}
    assert admins.projects is None
    assert issuer.grants(["unrelated"]) == ()


def _issuer(**changes: object) -> dict[str, object]:
    return {"issuer": "i", "audience": "a", "jwks_url": "u"} | changes


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"issuers": [_issuer(algorithms=["HS256"])]}, "not allowed"),
        ({"issuers": [_issuer(algorithms=["none"])]}, "not allowed"),
        ({"issuers": [_issuer(token_url="t"), _issuer(issuer="j", token_url="t")]}, "token_url"),
        ({"issuers": [_issuer(), _issuer()]}, "only once"),
        (
            {
                "issuers": [
                    _issuer(groups=[{"source_id": "g", "projects": ["p"], "capabilities": ["x:Y"]}])
                ]
            },
            "unknown capability",
        ),
        ({"issuers": [_issuer(audiences="typo")]}, "Extra inputs"),
    ],
)
def test_load_refuses_unsafe_or_wrong_configurations(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    path = tmp_path / "oidc.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        oidc_config.load(path)
