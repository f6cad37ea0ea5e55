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


def _words(entry: str) -> str:
    text = entry.lstrip(DECORATION).strip()
    for label in (*LABELS, HINT):
        text = text.removeprefix(label).strip()
    return text


def _entries(output: str) -> list[str]:
    """uv's messages, each joined back into one line (uv wraps long ones)."""
    entries: list[str] = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line:
            continue
        starts_entry = line.lstrip(DECORATION) != line or line.startswith((*LABELS, HINT))
        if entries and not starts_entry and raw.startswith(" "):
            entries[-1] = f"{entries[-1]} {line}"
        else:
            entries.append(line)
    return entries


def summary(output: str) -> str:
    """One line a person can act on, from uv's output."""
    entries = _entries(output)
    hints = [_words(entry) for entry in entries if entry.startswith(HINT)]
    advice = f" ({hints[0]})" if hints else ""
    if match := MISSING_PACKAGE.search(" ".join(output.split())):
        return (
            f"Could not install the requirements: {match.group(1)} was not found in the "
            f"package index{advice}"
        )
    for number, entry in enumerate(entries):
        if entry.lstrip(DECORATION).startswith(("error:", "\u00d7")):
            # The most specific cause is the last message of the chain that follows.
            chain = [entry]
            for following in entries[number + 1 :]:
                if following.startswith(HINT):
                    break
                chain.append(following)
            return f"Could not install the requirements: {_words(chain[-1])}{advice}"
    return "Could not install the requirements: " + (
        _words(entries[-1]) if entries else "uv failed"
    )


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
