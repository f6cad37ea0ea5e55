"""The README's set-up command, followed in a fresh clone, gives a server the SDK can use."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import Function

from tests.conftest import FUNCTIONS
from tests.servers import RunningServer, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Runs a command in a mount namespace of its own where every bwrap on PATH is /dev/null: a
# machine without bubblewrap installed, as far as the server can tell.
WITHOUT_SYSTEM_BWRAP = [
    "unshare",
    "--mount",
    "--",
    "sh",
    "-c",
    'for dir in $(echo "$PATH" | tr : " "); do '
    '[ -x "$dir/bwrap" ] && mount --bind /dev/null "$dir/bwrap"; done; exec "$@"',
    "without-bwrap",
]


def require_root() -> None:
    """Hiding the system's bubblewrap takes a mount namespace: root. On CI, fail instead."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the fresh-clone test as root (util-linux's unshare)")
        pytest.skip("needs root to hide the system's bubblewrap")


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_the_two_set_up_commands() -> None:
    assert readme_commands()[:2] == ["pip install . && fnhost serve", "./scripts/test"]


def ready(client: CogniteClient, folder: str) -> Function:
    function = client.functions.create(name=folder, folder=str(FUNCTIONS / folder))
    ready: Function = wait_until(
        lambda: (f := client.functions.retrieve(id=function.id)).status == "Ready" and f,
        timeout=120,
    )
    return ready


@pytest.mark.timeout(600)
def test_fresh_clone_install_serves_the_sdk(tmp_path: Path, environments_dir: Path) -> None:
    require_root()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = readme_commands()[0].split(" && ")[0]
    subprocess.run(f"{venv}/bin/{install}", shell=True, cwd=clone, check=True, capture_output=True)
    assert (venv / "bin" / "fnhost").exists()

    # The installed `fnhost serve` (not this checkout's), on a machine without bubblewrap, with
    # the admin token it writes itself into its data directory (FNHOST_ADMIN_TOKEN empty).
    data_dir = tmp_path / "data"
    server = RunningServer(
        data_dir=data_dir, environments_dir=environments_dir, env={"FNHOST_ADMIN_TOKEN": ""}
    )
    server.command = [*WITHOUT_SYSTEM_BWRAP, str(venv / "bin" / "fnhost"), "serve"]
    server.base_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server.start()
    try:
        admin_token = data_dir / "admin-token"
        token = admin_token.read_text().strip()
        with server.http(token=token) as http:
            status = http.get("/api/v1/projects/readme/functions/status").json()
        assert status["isolation"] == "bwrap", server.logs()
        assert "function isolation: bubblewrap sandbox (bundled bwrap " in server.logs()

        client = server.client("readme", token=token)
        assert ready(client, "ok").call(data={"x": 1}, wait=True).get_response() == {"x": 2}

        # Sandboxed by default: function code cannot read the server's secrets.
        database = data_dir / "fnhost.db"
        assert database.exists()
        hostile = ready(client, "hostile_read")
        call = hostile.call(
            data={"read": [str(admin_token), str(database)], "list": [], "write": []}, wait=True
        )
        assert call.status == "Completed", call.error
        assert call.get_response()["read"] == {
            str(admin_token): "FileNotFoundError",
            str(database): "FileNotFoundError",
        }
        # The console came with the package: its templates and static files are in the wheel.
        assert "Sign in to fnhost" in httpx.get(f"{server.url}/console/sign-in").text
        assert httpx.get(f"{server.url}/console/static/console.js").status_code == 200
    finally:
        server.stop()
