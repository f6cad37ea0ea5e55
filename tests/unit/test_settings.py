"""Settings are grouped by concern, yet each is still read from its own FNHOST_ variable."""

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from fnhost.settings import Settings


def test_settings_read_their_variables_into_groups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FNHOST_CALL_TIMEOUT_SECONDS", "42")
    monkeypatch.setenv("FNHOST_SANDBOX", "none")
    monkeypatch.setenv("FNHOST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FNHOST_CALL_RETENTION_DAYS", "45")

    settings = Settings.load()

    assert settings.calls.call_timeout_seconds == 42
    assert settings.sandbox.sandbox == "none"
    assert settings.retention.call_retention_days == 45
    assert settings.database_url == f"sqlite:///{tmp_path / 'fnhost.db'}"
    assert settings.environments_dir == tmp_path / "environments"


def test_call_history_is_kept_90_days_by_default_as_in_cdf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FNHOST_CALL_RETENTION_DAYS", raising=False)

    assert Settings.load().retention.call_retention_days == 90


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNHOST_PORT", "9000")

    assert Settings.load(port=9001, host="0.0.0.0").server.port == 9001
    assert Settings.load(port=9001, host="0.0.0.0").public_url == "http://127.0.0.1:9001"


def test_unknown_override_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown settings: no_such_setting"):
        Settings.load(no_such_setting=1)


def test_invalid_value_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNHOST_MAX_CONCURRENT_CALLS", "0")

    with pytest.raises(ValidationError, match="max_concurrent_calls"):
        Settings.load()


def test_settings_cannot_change_once_built() -> None:
    settings = Settings.load()

    with pytest.raises(ValidationError):
        settings.calls.call_timeout_seconds = 1  # type: ignore[misc]


def test_tls_needs_both_certificate_and_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="must be set together"):
        Settings.load(tls_cert_file=tmp_path / "cert.pem")


def test_public_url_is_https_when_the_server_serves_tls(tmp_path: Path) -> None:
    settings = Settings.load(
        host="0.0.0.0", port=8443, tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k"
    )
    assert settings.public_url == "https://127.0.0.1:8443"
    assert Settings.load(port=8000).public_url == "http://127.0.0.1:8000"


def test_the_ray_executor_needs_the_cluster_address_and_postgres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FNHOST_EXECUTOR", "ray")
    postgres = "postgresql+asyncpg://fnhost@db.example.com/fnhost"
    key = Fernet.generate_key().decode()

    with pytest.raises(ValidationError, match="FNHOST_EXECUTOR=ray needs FNHOST_RAY_ADDRESS"):
        Settings.load(database_url=postgres, secret_key=key)
    with pytest.raises(ValidationError, match="FNHOST_EXECUTOR=ray needs PostgreSQL"):
        Settings.load(ray_address="10.0.0.5:6379", secret_key=key)
    with pytest.raises(ValidationError, match="FNHOST_EXECUTOR=ray needs FNHOST_SECRET_KEY"):
        Settings.load(ray_address="10.0.0.5:6379", database_url=postgres)
    settings = Settings.load(ray_address="10.0.0.5:6379", database_url=postgres, secret_key=key)
    assert settings.executor.executor == "ray"


def test_each_project_has_its_upstream_or_the_default_one() -> None:
    settings = Settings.load(
        upstream_url="https://westeurope-1.cognitedata.com/",
        upstream_project_urls={"local": "http://127.0.0.1:9000"},
        oidc_config="oidc.toml",
    )

    assert settings.upstream.url_for("local") == "http://127.0.0.1:9000"
    assert settings.upstream.url_for("other") == "https://westeurope-1.cognitedata.com"
    assert Settings.load().upstream.url_for("other") is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cdf.example.com", "only over https"),
        ("ftp://cdf.example.com", "not an http(s) URL"),
        ("cdf.example.com", "not an http(s) URL"),
        ("https://cdf.example.com/?project=x", "no query"),
    ],
)
def test_an_upstream_url_that_could_leak_tokens_or_is_no_base_url_is_refused(
    url: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        Settings.load(upstream_url=url, oidc_config="oidc.toml")
    with pytest.raises(ValidationError, match=re.escape(reason)):
        Settings.load(upstream_project_urls={"p": url}, oidc_config="oidc.toml")


def test_an_upstream_without_an_oidc_issuer_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"FNHOST_UPSTREAM_URL .* needs FNHOST_OIDC_CONFIG"):
        Settings.load(upstream_url="https://westeurope-1.cognitedata.com")
