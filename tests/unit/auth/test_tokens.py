import re

from fnhost.auth import tokens

YAML_SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9_.~-]*$")


def test_client_credentials_are_yaml_safe() -> None:
    for _ in range(200):
        assert YAML_SAFE.match(tokens.generate_client_id())
        assert YAML_SAFE.match(tokens.generate_client_secret())


def test_issued_tokens_are_never_mistaken_for_jwts() -> None:
    assert not any(tokens.looks_like_jwt(tokens.generate()) for _ in range(200))
    assert tokens.looks_like_jwt("a.b.c")
