"""Running uv for an environment build: bounded in time, credentials redacted, errors summarised."""

import asyncio
import contextlib
import os
import re
import signal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from fnhost.builder.errors import BuildFailed

OUTPUT_TAIL_CHARS = 20_000
# uv draws its error chains with box characters and labels; keep the words.
DECORATION = "\u00d7\u251c\u2570\u2500\u25b6\u2502 "
LABELS = ("error:", "cause:", "Caused by:")
MISSING_PACKAGE = re.compile(r"Because (\S+) was not found in the package registry")
HINT = "hint:"


def _secrets_of(url: str) -> set[str]:
    """The credentials embedded in one URL, in every spelling uv might print."""
    parts = urlsplit(url)
    found: set[str] = set()
    for secret in (parts.password, parts.username):
        if secret:
            found |= {secret, unquote(secret), quote(unquote(secret), safe="")}
    return found


def redact(text: str, urls: list[str]) -> str:
    """Remove credentials of index URLs from build output."""
    for url in urls:
        parts = urlsplit(url)
        if not (parts.username or parts.password):
            continue
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        text = text.replace(url, urlunsplit(parts._replace(netloc=f"***@{host}")))
        # Longest first, so a password containing the username is removed whole.
        for secret in sorted(_secrets_of(url), key=len, reverse=True):
            text = text.replace(secret, "***")
    return text


def _words(line: str) -> str:
    text = line.strip().lstrip(DECORATION).strip()
    for label in LABELS:
        text = text.removeprefix(label).strip()
    return text


def summary(output: str) -> str:
    """One line a person can act on, from uv's output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    hints = [_words(line.removeprefix(HINT)) for line in lines if line.startswith(HINT)]
    advice = f" ({hints[0]})" if hints else ""
    if match := MISSING_PACKAGE.search(output):
        return (
            f"Could not install the requirements: {match.group(1)} was not found in the "
            f"package index{advice}"
        )
    for number, line in enumerate(lines):
        if line.lstrip(DECORATION).startswith(("error:", "\u00d7")):
            # The most specific cause is the last line of the chain that follows.
            chain = [line]
            for following in lines[number + 1 :]:
                if following.startswith(HINT):
                    break
                chain.append(following)
            return f"Could not install the requirements: {_words(chain[-1])}{advice}"
    return "Could not install the requirements: " + (_words(lines[-1]) if lines else "uv failed")


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def run(command: list[str], *, secrets: list[str], timeout_seconds: float) -> str:
    """Run uv; its output (redacted) on success, else BuildFailed with a summary and the tail."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        # Its own group, so build backends it starts die with it.
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout_seconds)
    except TimeoutError:
        raise BuildFailed(
            f"Building the environment took longer than {timeout_seconds:g} seconds "
            "(FNHOST_ENVIRONMENT_BUILD_TIMEOUT_SECONDS): check the requirements and the "
            "index URLs"
        ) from None
    finally:
        # On a timeout, a cancellation (server stopping) or an error: nothing outlives the build.
        _kill_group(process)
        with contextlib.suppress(ProcessLookupError):
            await process.wait()
    output = redact(out.decode(errors="replace"), secrets)
    if process.returncode != 0:
        raise BuildFailed(summary(output), trace=output[-OUTPUT_TAIL_CHARS:])
    return output
