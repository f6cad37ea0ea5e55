"""The README's set-up command, followed in a fresh clone, gives a server the SDK can use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import FUNCTIONS
from tests.servers import ADMIN_TOKEN, RunningServer, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_the_two_set_up_commands() -> None:
    assert readme_commands()[:2] == ["pip install . && fnhost serve", "./scripts/test"]


@pytest.mark.timeout(600)
def test_fresh_clone_install_serves_the_sdk(tmp_path: Path, environments_dir: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = readme_commands()[0].split(" && ")[0]
    subprocess.run(f"{venv}/bin/{install}", shell=True, cwd=clone, check=True, capture_output=True)
    assert (venv / "bin" / "fnhost").exists()

    # The installed `fnhost serve` (not this checkout's) answers the SDK.
    server = RunningServer(data_dir=tmp_path / "data", environments_dir=environments_dir)
    server.command = [str(venv / "bin" / "fnhost"), "serve"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server.base_env = env
    server.start()
    try:
        client = server.client("readme", token=ADMIN_TOKEN)
        function = client.functions.create(name="ok", folder=str(FUNCTIONS / "ok"))
        function = wait_until(
            lambda: (f := client.functions.retrieve(id=function.id)).status == "Ready" and f,
            timeout=120,
        )
        assert function.call(data={"x": 1}, wait=True).get_response() == {"x": 2}
        # The console came with the package: its templates and static files are in the wheel.
        assert "Sign in to fnhost" in httpx.get(f"{server.url}/console/sign-in").text
        assert httpx.get(f"{server.url}/console/static/console.js").status_code == 200
    finally:
        server.stop()
