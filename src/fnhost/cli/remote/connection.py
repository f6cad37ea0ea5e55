"""Which server the client commands talk to, as whom, and in which project."""

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from fnhost.cli.remote.errors import CliError
from fnhost.layout import DataDir
from fnhost.settings import ServerSettings


@dataclass(frozen=True)
class Connection:
    url: str
    token: str
    project: str


def connect(url: str | None, token: str | None, project: str | None) -> Connection:
    """The connection the options name. Without --url: the local server (its FNHOST_HOST and
    FNHOST_PORT). Without --token, and only for the local server: its FNHOST_ADMIN_TOKEN or
    the admin token in its data directory (never sent to another server)."""
    if not project:
        raise CliError("No project: pass --project or set FNHOST_PROJECT")
    if url is not None and token is not None:
        return Connection(url=_http(url), token=token, project=project)
    local = _local_server()
    url = _http(url or local.local_url)
    if token is None:
        if url != local.local_url:
            raise CliError(
                f"No token for {url}: pass --token or set FNHOST_TOKEN (the local admin token "
                f"is only sent to the local server, {local.local_url})"
            )
        token = local.admin_token or _admin_token(DataDir(local.data_dir).admin_token)
    return Connection(url=url, token=token, project=project)


def _http(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--url {url!r} is not an HTTP URL; give it as http(s)://HOST[:PORT]")
    return url.rstrip("/")


def _local_server() -> ServerSettings:
    try:
        return ServerSettings()
    except ValidationError as error:
        raise CliError(f"The local server's settings are invalid: {error}") from None


def _admin_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as error:
        raise CliError(
            f"No token: pass --token or set FNHOST_TOKEN (the local admin token "
            f"{path} is not readable: {error.strerror})"
        ) from None
    if not token:
        raise CliError(f"No token: pass --token or set FNHOST_TOKEN ({path} is empty)")
    return token
