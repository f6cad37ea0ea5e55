import pytest
from pydantic import ValidationError

from fnhost.schemas.functions import FunctionCreate


def create(**fields: object) -> FunctionCreate:
    return FunctionCreate.model_validate({"name": "f", "fileId": 1, **fields})


def test_sdk_v6_blanks_and_nulls_mean_unset() -> None:
    body = create(description="", owner="", envVars=None, metadata=None, functionPath=None)
    assert body.description is None and body.owner is None
    assert body.env_vars is None and body.metadata is None
    assert body.function_path == "handler.py"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"functionPath": "../x.py"}, "relative POSIX path"),
        ({"functionPath": "/abs.py"}, "relative POSIX path"),
        ({"functionPath": "handler.txt"}, "must name a .py file"),
        ({"secrets": {"UPPER": "x"}}, "lowercase letters"),
        ({"secrets": {f"k{i}": "v" for i in range(31)}}, "at most 30 secrets"),
        ({"envVars": {"bad-key": "x"}}, "letters, digits and underscores"),
        ({"metadata": {"k": "v" * 513}}, "longer than 512"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "at most 16 pairs"),
        ({"name": ""}, "at least 1 character"),
    ],
)
def test_invalid_fields_say_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        create(**fields)
