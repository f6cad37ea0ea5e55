"""Settings, read once from `FNHOST_*` environment variables and passed down explicitly.

They are grouped by concern (`settings.calls.call_timeout_seconds`); each field keeps the name of
its variable (`FNHOST_CALL_TIMEOUT_SECONDS`), so a setting is found by grepping either.
"""

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fnhost.layout import DataDir


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fnhost"


class _Group(BaseSettings):
    """A group of settings; every field is the variable `FNHOST_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="FNHOST_", extra="ignore", frozen=True)


class ServerSettings(_Group):
    """Where the server listens, keeps its data and is reached."""

    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port of the HTTP server.")
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory holding the database, code, environments and keys.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database. Unset: a SQLite file in the data directory. "
        "SQLite URLs run on Python's sqlite3 on the event loop's thread, whatever driver they "
        "name.",
    )
    sqlite_lock_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest a write waits for another process holding the SQLite write lock "
        "before it fails.",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        description="PostgreSQL: connections each process keeps open for its units of work; "
        "a unit of work finding them all busy waits for one.",
    )
    database_ping_idle_seconds: float = Field(
        5.0,
        ge=0,
        description="PostgreSQL: a pooled connection unused for longer is pinged before use "
        "(one closed is always replaced, and a unit of work that meets a dead connection runs "
        "again once on a fresh one); 0 pings at every use.",
    )
    public_url: str | None = Field(
        None,
        description="Base URL functions use to reach this server (their `client`). "
        "Unset: http://HOST:PORT, https:// with TLS (loopback when HOST is 0.0.0.0).",
    )
    admin_token: str | None = Field(
        None,
        description="Admin bearer token. Unset: one is generated on first start and written "
        "to DATA_DIR/admin-token (mode 0600).",
    )
    request_body_max_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest JSON request body (after gunzip)."
    )
    shutdown_grace_seconds: int = Field(
        5,
        ge=0,
        description="At stop, how long open requests (a console's live views, calls holding "
        "their answer) may go on before they are closed.",
    )
    tls_cert_file: Path | None = Field(
        None,
        description="PEM certificate (with its chain) to serve HTTPS with, together with "
        "TLS_KEY_FILE. Unset: plain HTTP.",
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of TLS_CERT_FILE.")
    forwarded_allow_ips: str = Field(
        "127.0.0.1,::1",
        description="Comma-separated addresses or networks (CIDR) of the proxies whose "
        "X-Forwarded-Proto, -Host and -For headers are believed; `*` for any, empty for none.",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> "ServerSettings":
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("FNHOST_TLS_CERT_FILE and FNHOST_TLS_KEY_FILE must be set together")
        return self

    @property
    def tls(self) -> bool:
        """Whether the server speaks HTTPS itself."""
        return self.tls_cert_file is not None

    @property
    def local_url(self) -> str:
        """Where a process on this machine reaches the server (loopback when it listens on
        every interface)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}"


class CallSettings(_Group):
    """How calls run: time, concurrency, sizes, and the resources a function may ask for."""

    call_timeout_seconds: int = Field(
        600, ge=1, description="Wall-clock limit of one call; past it the call ends Timeout."
    )
    max_concurrent_calls: int = Field(
        16, ge=1, description="Calls running at once on this server; more wait, still Running."
    )
    instance_idle_seconds: int = Field(
        600,
        ge=1,
        description="A function's warm instance is stopped after this long without calls.",
    )
    instance_start_timeout_seconds: int = Field(
        60,
        ge=1,
        description="Longest a function's instance may take to start (import its handler).",
    )
    call_wait_ms: int = Field(
        200,
        ge=0,
        le=30_000,
        description="How long POST .../call holds its answer for the call to end, so that a "
        "quick call comes back finished in one round trip; 0: answer at once (Running).",
    )
    max_active_calls_per_function: int = Field(
        100,
        ge=1,
        description="Calls of one function running or waiting at once (on every server of "
        "the database); past it POST .../call answers 429 and a schedule's tick is skipped.",
    )
    max_active_calls_per_project: int = Field(
        250,
        ge=1,
        description="Calls of one project running or waiting at once; past it POST .../call "
        "answers 429 and a schedule's tick is skipped.",
    )
    call_data_max_bytes: int = Field(
        9 * 1024 * 1024, ge=1, description="Largest accepted call `data`, as JSON bytes."
    )
    response_max_mb: int = Field(
        1, ge=1, description="Largest call response (JSON); a larger one fails the call."
    )
    call_log_max_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Log output kept per call; past it a truncation marker ends the logs.",
    )
    log_line_max_chars: int = Field(
        10_000, ge=80, description="Longer log lines are cut to this many characters."
    )
    function_cpu_default: float = Field(1.0, gt=0, description="CPU cores of a call by default.")
    function_cpu_max: float = Field(
        float(os.cpu_count() or 1), gt=0, description="Most CPU cores a function may ask for."
    )
    function_memory_default_gb: float = Field(
        1.5, gt=0, description="Memory (GB) of a call by default."
    )
    function_memory_max_gb: float = Field(
        5.0, gt=0, description="Most memory (GB) a function may ask for."
    )

    @property
    def response_max_bytes(self) -> int:
        return self.response_max_mb * 1024 * 1024


class BuildSettings(_Group):
    """Uploads, code zips, and building functions' environments."""

    upload_max_bytes: int = Field(
        100 * 1024 * 1024, ge=1, description="Largest file (code zip) accepted by an upload."
    )
    code_max_unpacked_bytes: int = Field(
        500 * 1024 * 1024, ge=1, description="Largest total uncompressed size of a code zip."
    )
    code_max_files: int = Field(20_000, ge=1, description="Most entries a code zip may hold.")
    build_concurrency: int = Field(2, ge=1, description="Function builds running at once.")
    environment_build_timeout_seconds: int = Field(
        900,
        ge=1,
        description="Longest one environment build (uv) may take; past it the deploy fails.",
    )
    handler_import_timeout_seconds: int = Field(
        60,
        ge=1,
        description="Longest the deploy-time import of a function's handler may take.",
    )
    environment_keep_hours: float = Field(
        168,
        ge=0,
        description="A cached environment no function uses is deleted after this many hours "
        "unused. The base environment (no requirements) is always kept.",
    )
    environments_dir: Path | None = Field(
        None,
        description="Cache of built function environments. Unset: DATA_DIR/environments. "
        "Servers on one machine may share it.",
    )
    default_runtime: str = Field("py311", description="Runtime of a function that names none.")
    runtime_interpreters: dict[str, str] = Field(
        default_factory=dict,
        description='Interpreters of runtimes, as JSON, e.g. {"py312": "/usr/bin/python3.12"}. '
        "Runtimes not named are looked for on PATH and in pyenv.",
    )
    default_cognite_sdk_version: str = Field(
        "8.22.0",
        description="cognite-sdk installed in function environments whose requirements.txt "
        "does not pin one.",
    )


class SandboxSettings(_Group):
    """How function code is isolated, and the limits of one call's processes."""

    sandbox: Literal["auto", "bwrap", "none"] = Field(
        "auto",
        description="Isolation of function code: bwrap (bubblewrap, or refuse to start), "
        "none, or auto (bwrap where it works, else none with a warning).",
    )
    sandbox_uid_base: int = Field(
        2_000_000_000,
        ge=1,
        le=2**31 - 100_000,
        description="When the server runs as root, sandboxed processes run as uids from this "
        "one up (one per warm instance or build); no one else may use them.",
    )
    call_network: Literal["allow", "deny"] = Field(
        "allow",
        description="Network of function code; deny also cuts off its `client` (sandbox only).",
    )
    call_max_processes: int = Field(
        128, ge=2, description="Processes and threads one call may run at once (sandbox only)."
    )
    call_max_open_files: int = Field(
        1024, ge=16, description="Files and sockets one call's process may hold open."
    )
    call_max_file_size_mb: int = Field(512, ge=1, description="Largest file a call may write.")
    call_tmp_size_mb: int = Field(
        256,
        ge=1,
        description="Size of a call's private /tmp, and of its /dev/shm (memory-backed; "
        "sandbox only).",
    )
    cgroups: Literal["auto", "off"] = Field(
        "auto",
        description="auto: hold each call's CPU (the function's cpu) and memory (its memory, "
        "all its processes and its /tmp) in cgroups where the machine has them; off: rlimits "
        "only.",
    )
    cgroup_root: str | None = Field(
        None,
        description="cgroup (a path as /proc/self/cgroup shows, e.g. /fnhost) under which the "
        "server makes its cgroups; it must be writable, with the cpu and memory controllers. "
        "Unset: the server's own cgroup.",
    )


class ExecutorSettings(_Group):
    """What runs calls: warm instances on this machine, or instance actors on a Ray cluster."""

    executor: Literal["local", "ray"] = Field(
        "local",
        description="local: calls run on this machine. ray: on the nodes of the Ray cluster at "
        "FNHOST_RAY_ADDRESS that advertise the resource fnhost_node, run by `fnhost dispatcher` "
        "(needs fnhost[ray] there, and PostgreSQL); `fnhost serve` is then an API replica that "
        "runs no function code.",
    )
    ray_address: str | None = Field(
        None,
        description="Address of the Ray cluster's head (host:port of its GCS, as `ray start "
        "--head` prints it). Required with FNHOST_EXECUTOR=ray.",
    )
    ray_calls_per_instance: int = Field(
        8,
        ge=1,
        description="Calls one instance (one function on one node) runs at once; when all of "
        "a function's instances are this busy, another one starts on another node.",
    )
    ray_instances_per_function: int = Field(
        8,
        ge=1,
        description="Most instances of one function at once, each on a node of its own.",
    )
    ray_instances_per_node: int = Field(
        16,
        ge=1,
        description="Most function instances on one node at once (each holds a Ray worker process "
        "and a zygote); an idle one makes room for another function's.",
    )
    ray_call_guard_seconds: int = Field(
        30,
        ge=1,
        description="A call whose instance has not reported its end this long after its "
        "deadline (FNHOST_CALL_TIMEOUT_SECONDS plus FNHOST_INSTANCE_START_TIMEOUT_SECONDS) "
        "ends Failed and the instance is stopped: a hung node cannot keep a call Running.",
    )

    @model_validator(mode="after")
    def _ray_needs_an_address(self) -> "ExecutorSettings":
        if self.executor == "ray" and not self.ray_address:
            raise ValueError(
                "FNHOST_EXECUTOR=ray needs FNHOST_RAY_ADDRESS, the address of the Ray "
                "cluster's head (e.g. 10.0.0.5:6379)"
            )
        return self


class IdentitySettings(_Group):
    """Tokens, sessions, OIDC issuers and the key sealing secrets."""

    session_ttl_hours: int = Field(
        24 * 365,
        ge=1,
        description="Lifetime of a session created through POST /sessions "
        "(a schedule's session lasts as long as the schedule).",
    )
    secret_key: str | None = Field(
        None,
        description="Fernet key (urlsafe base64 of 32 bytes) sealing function secrets at rest. "
        "Unset: DATA_DIR/secret.key, generated on first start (mode 0600).",
    )
    client_token_ttl_seconds: int = Field(
        3600, ge=60, description="Lifetime of an access token from POST /oauth2/token."
    )
    oidc_config: Path | None = Field(
        None,
        description="TOML or JSON file of trusted OIDC issuers and their group mappings. "
        "Unset: only fnhost-issued tokens are accepted.",
    )
    oidc_jwks_max_age_seconds: int = Field(
        3600, ge=1, description="How long an issuer's fetched signing keys (JWKS) are trusted."
    )
    oidc_jwks_min_refresh_seconds: int = Field(
        30,
        ge=0,
        description="Shortest interval between JWKS fetches caused by tokens naming an "
        "unknown key id.",
    )
    oidc_leeway_seconds: int = Field(
        30, ge=0, description="Clock skew tolerated when checking a JWT's exp and nbf."
    )
    oidc_http_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of requests to an issuer's JWKS and token endpoints."
    )


class ScheduleSettings(_Group):
    """The scheduler."""

    scheduler_poll_seconds: float = Field(
        5.0,
        gt=0,
        description="Longest the scheduler sleeps without looking for schedules made by other "
        "servers on the same database (its own wake it at once).",
    )


class RetentionSettings(_Group):
    """How long history is kept."""

    call_retention_days: float = Field(
        90,
        ge=0,
        description="Ended calls (with their logs and responses) are deleted this many days "
        "after they ended, as CDF keeps them 90 days, and expired sessions this many days "
        "after they expired; 0 keeps them forever.",
    )


class LogSettings(_Group):
    """The server's own log."""

    log_format: Literal["text", "json"] = Field(
        "text",
        description="How the server's log lines look on stderr: readable text, or one JSON "
        "object per line (time, level, logger, message, and the request, project, function "
        "and call ids where known).",
    )


class MonitoringSettings(_Group):
    """The metrics listener: /metrics on a port of its own, for a process without the API's port
    (`fnhost dispatcher`), or beside it."""

    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port of the metrics listener, which serves what GET /metrics serves (to a "
        "bearer token holding metricsAcl:READ in every project). Unset: no listener.",
    )
    metrics_host: str = Field("127.0.0.1", description="Interface the metrics listener binds to.")


class ConsoleSettings(_Group):
    """The web console: its sign-in sessions and its live views."""

    console_session_idle_minutes: int = Field(
        60, ge=1, description="A console session ends after this many minutes without a request."
    )
    console_session_max_hours: int = Field(
        12, ge=1, description="A console session ends this many hours after sign-in, whatever."
    )
    console_live_poll_ms: int = Field(
        500,
        ge=50,
        le=10_000,
        description="How often a console's live view (logs of a running call, a deploy's "
        "status) looks for news.",
    )
    console_live_max_seconds: int = Field(
        300,
        ge=5,
        description="Longest one live stream stays open; the browser then reconnects where it "
        "left off.",
    )
    console_timeline_max_calls: int = Field(
        1000,
        ge=10,
        le=100_000,
        description="Most past calls (newest first), and most upcoming scheduled calls, the "
        "runs timeline shows at once.",
    )
    console_code_view_max_bytes: int = Field(
        256 * 1024,
        ge=1024,
        description="Longest file of a function's code (handler, requirements.txt) the console "
        "shows; a longer one is cut.",
    )


def _upstream_url(url: str) -> str:
    """A base URL the caller's tokens may be sent to: https, or http only to this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL such as https://api.cognitedata.com")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a base URL takes no query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"{url!r}: bearer tokens are forwarded only over https (http only to this machine)"
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine for certain: localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class UpstreamSettings(_Group):
    """The upstream CDF: where requests fnhost does not serve itself are forwarded."""

    upstream_url: str | None = Field(
        None,
        description="Base URL of the CDF cluster (e.g. https://westeurope-1.cognitedata.com) "
        "that requests under /api/v1/projects/{project}/ for resources fnhost does not serve "
        "are forwarded to, with the caller's own OIDC token. Unset: they are a 404.",
    )
    upstream_project_urls: dict[str, str] = Field(
        default_factory=dict,
        description='Upstreams of single projects, as JSON, e.g. {"demo": '
        '"https://westeurope-1.cognitedata.com"}; other projects use FNHOST_UPSTREAM_URL.',
    )
    upstream_connect_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait for a connection to the upstream CDF."
    )
    upstream_timeout_seconds: float = Field(
        120.0,
        gt=0,
        description="Longest the upstream CDF may take to accept or send the next bytes of a "
        "forwarded request or its response.",
    )
    upstream_request_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest request body forwarded to the upstream CDF (as sent, gzip or not).",
    )

    @field_validator("upstream_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        return None if value is None else _upstream_url(value)

    @field_validator("upstream_project_urls")
    @classmethod
    def _valid_project_urls(cls, value: dict[str, str]) -> dict[str, str]:
        return {project: _upstream_url(url) for project, url in value.items()}

    @property
    def configured(self) -> bool:
        return self.upstream_url is not None or bool(self.upstream_project_urls)

    def url_for(self, project: str) -> str | None:
        """The base URL of `project`'s upstream CDF; None when it has none."""
        return self.upstream_project_urls.get(project, self.upstream_url)


class Settings(BaseModel):
    """Every knob of an fnhost server, by concern. Built once at start, never changed."""

    model_config = ConfigDict(frozen=True)

    server: ServerSettings = Field(default_factory=ServerSettings)
    calls: CallSettings = Field(default_factory=CallSettings)
    builds: BuildSettings = Field(default_factory=BuildSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    logs: LogSettings = Field(default_factory=LogSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)

    @model_validator(mode="after")
    def _scaled_out_shares_state(self) -> "Settings":
        if self.executor.executor != "ray":
            return self
        if not self.database_url.startswith("postgresql"):
            raise ValueError(
                "FNHOST_EXECUTOR=ray needs PostgreSQL (FNHOST_DATABASE_URL=postgresql+asyncpg://"
                "...): the API replicas and the dispatchers share their state through it"
            )
        if self.identity.secret_key is None:
            raise ValueError(
                "FNHOST_EXECUTOR=ray needs FNHOST_SECRET_KEY, the same on every replica and "
                "dispatcher (it seals function secrets and signs calls' tokens); make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            )
        return self

    @model_validator(mode="after")
    def _upstream_needs_oidc(self) -> "Settings":
        if self.upstream.configured and self.identity.oidc_config is None:
            raise ValueError(
                "FNHOST_UPSTREAM_URL (or FNHOST_UPSTREAM_PROJECT_URLS) needs FNHOST_OIDC_CONFIG: "
                "only tokens of a trusted OIDC issuer are forwarded to the upstream CDF"
            )
        return self

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """The environment's settings, with `overrides` (by variable name, lower case, without
        the prefix) taking precedence; an unknown name is a TypeError."""
        groups: dict[str, Any] = {}
        left = dict(overrides)
        for name, field in cls.model_fields.items():
            group = field.annotation
            assert isinstance(group, type) and issubclass(group, _Group)
            mine = {key: left.pop(key) for key in list(left) if key in group.model_fields}
            groups[name] = group(**mine)
        if left:
            raise TypeError(f"unknown settings: {', '.join(sorted(left))}")
        return cls(**groups)

    @property
    def layout(self) -> DataDir:
        return DataDir(self.server.data_dir)

    @property
    def database_url(self) -> str:
        """The configured database, or the embedded SQLite file."""
        return self.server.database_url or f"sqlite:///{self.layout.database}"

    @property
    def public_url(self) -> str:
        """Where functions reach this server."""
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        return self.server.local_url

    @property
    def environments_dir(self) -> Path:
        """The cache of built environments."""
        return self.builds.environments_dir or self.layout.environments
