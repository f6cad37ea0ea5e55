"""Settings a local command cannot use stop it with what is wrong, not a traceback."""

import pytest
import typer

from fnhost.cli.platform import load_settings


def test_unusable_settings_stop_the_command_saying_which_and_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FNHOST_PORT", "eighty")
    with pytest.raises(typer.Exit) as stopped:
        load_settings()
    assert stopped.value.exit_code == 2
    assert "fnhost: FNHOST_PORT: Input should be a valid integer" in capsys.readouterr().err

    monkeypatch.delenv("FNHOST_PORT")
    monkeypatch.setenv("FNHOST_EXECUTOR", "ray")
    monkeypatch.setenv("FNHOST_RAY_ADDRESS", "10.0.0.5:6379")
    with pytest.raises(typer.Exit):
        load_settings()
    assert "fnhost: FNHOST_EXECUTOR=ray needs PostgreSQL" in capsys.readouterr().err
