"""FNHOST_SANDBOX=auto gives up the sandbox only where the kernel refuses namespaces; any other
failure stops the server (after retries), rather than silently costing the isolation."""

from pathlib import Path

import pytest

from fnhost import isolation
from fnhost.settings import Settings

NAMESPACES_REFUSED = "bwrap: No permissions to create new namespace, likely because the kernel"


def _fake_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, complaint: str) -> Path:
    """The only bubblewrap found: a program that fails with `complaint`; each run is counted."""
    runs = tmp_path / "runs"
    program = tmp_path / "bwrap"
    program.write_text(f"#!/bin/sh\necho run >> {runs}\necho '{complaint}' >&2\nexit 1\n")
    program.chmod(0o755)
    monkeypatch.setattr(isolation, "_bwraps", lambda: [(str(program), "system")])
    return runs


def _settings(sandbox: str) -> Settings:
    return Settings.load(sandbox=sandbox, cgroups="off")


def test_refused_namespaces_fall_back_to_no_sandbox_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_bwrap(tmp_path, monkeypatch, NAMESPACES_REFUSED)

    found = isolation.detect(_settings("auto"))

    assert found.kind == "none"
    assert "No permissions to create new namespace" in found.reason


def test_refused_namespaces_stop_a_server_that_must_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_bwrap(tmp_path, monkeypatch, NAMESPACES_REFUSED)

    with pytest.raises(isolation.SandboxUnavailable, match="FNHOST_SANDBOX=bwrap, but"):
        isolation.detect(_settings("bwrap"))


def test_any_other_failure_is_tried_again_then_stops_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _fake_bwrap(tmp_path, monkeypatch, "setpriv: setresuid failed: Resource unavailable")

    with pytest.raises(isolation.SandboxUnavailable) as refused:
        isolation.detect(_settings("auto"))

    assert "Resource unavailable" in str(refused.value)
    assert "set FNHOST_SANDBOX=none to run function code without a sandbox" in str(refused.value)
    # Three tries with the seccomp filter, three without it (the kernel may refuse the filter).
    assert len(runs.read_text().splitlines()) == 2 * isolation.PROBE_TRIES
