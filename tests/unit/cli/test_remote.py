"""The client commands' pieces that need no server: connection defaults, data, the code zip."""

import io
import zipfile
from pathlib import Path

import pytest
import typer

from fnhost.cli.remote import code, payload
from fnhost.cli.remote.connection import Connection, connect
from fnhost.cli.remote.errors import CliError
from fnhost.cli.remote.functions import _pairs


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A local server's settings: its data directory (with no admin token yet)."""
    for name in ("FNHOST_ADMIN_TOKEN", "FNHOST_HOST", "FNHOST_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FNHOST_DATA_DIR", str(tmp_path))
    return tmp_path


def test_defaults_are_the_local_server_and_its_admin_token(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (local / "admin-token").write_text("the-admin-token\n")
    monkeypatch.setenv("FNHOST_HOST", "0.0.0.0")
    monkeypatch.setenv("FNHOST_PORT", "9123")

    assert connect(None, None, "p") == Connection("http://127.0.0.1:9123", "the-admin-token", "p")


def test_the_servers_admin_token_setting_wins_over_its_file(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FNHOST_ADMIN_TOKEN", "from-env")

    assert connect(None, None, "p").token == "from-env"


def test_without_a_readable_admin_token_a_token_is_asked_for(local: Path) -> None:
    with pytest.raises(CliError, match=f"pass --token .*{local / 'admin-token'} is not readable"):
        connect(None, None, "p")


def test_the_local_admin_token_never_goes_to_another_server(local: Path) -> None:
    (local / "admin-token").write_text("the-admin-token\n")

    with pytest.raises(CliError, match=r"No token for https://far.example:8443"):
        connect("https://far.example:8443/", None, "p")


def test_url_and_token_given_read_no_local_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNHOST_PORT", "not-a-port")  # would fail if the local server were read

    assert connect("http://h:1/", "t", "p") == Connection("http://h:1", "t", "p")


@pytest.mark.parametrize(
    ("url", "project", "message"),
    [
        ("h:1", "p", "is not an HTTP URL"),
        ("http://h:1", None, "No project: pass --project or set FNHOST_PROJECT"),
        ("http://h:1", "", "No project"),
    ],
)
def test_unusable_connection_options_are_refused(
    url: str, project: str | None, message: str
) -> None:
    with pytest.raises(CliError, match=message):
        connect(url, "t", project)


def test_data_is_inline_json_a_file_or_the_default(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('{"x": [1, 2]}')

    assert payload.parse('{"x": 1}', default={}) == {"x": 1}
    assert payload.parse(f"@{tmp_path / 'd.json'}", default={}) == {"x": [1, 2]}
    assert payload.parse("3", default={}) == 3
    assert payload.parse(None, default={}) == {}


@pytest.mark.parametrize(
    ("text", "message"), [("{x: 1}", "not valid JSON"), ("@/no/such", "cannot read")]
)
def test_data_that_is_not_json_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(typer.BadParameter, match=message):
        payload.parse(text, default={})


def test_code_zip_has_relative_paths_and_no_bytecode(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "handler.py").write_text("def handle(): pass\n")
    (tmp_path / "pkg" / "util.py").write_text("X = 1\n")
    (tmp_path / "pkg" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "__pycache__").mkdir()

    archive = zipfile.ZipFile(io.BytesIO(code.zip_folder(tmp_path)))

    assert sorted(archive.namelist()) == ["handler.py", "pkg/util.py"]
    assert archive.read("pkg/util.py") == b"X = 1\n"


def test_key_value_options() -> None:
    assert _pairs(["A=1", "B=x=y", "C="], "--env") == {"A": "1", "B": "x=y", "C": ""}
    for bad in ("A", "=1"):
        with pytest.raises(typer.BadParameter, match="is not KEY=VALUE"):
            _pairs([bad], "--env")
