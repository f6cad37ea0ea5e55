"""Function environments: one virtualenv per distinct (requirements, runtime, index URLs),
built with uv, cached on disk and shared by every function that asks for the same."""

import asyncio
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import uv

from fnhost.builder.errors import BuildFailed
from fnhost.builder.runtimes import Runtime

REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
OUTPUT_TAIL_CHARS = 20_000
UV_ERROR = "\u00d7"  # uv's error marker
UV_DECORATION = "\u00d7\u2570\u2500\u25b6 "


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: str) -> set[str]:
    names = set()
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if match := REQUIREMENT_NAME.match(line):
            names.add(_normalize(match.group(1)))
    return names


def redact(text: str, urls: list[str]) -> str:
    """Remove credentials of index URLs from build output."""
    for url in urls:
        parts = urlsplit(url)
        if parts.username or parts.password:
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            text = text.replace(url, urlunsplit(parts._replace(netloc=f"***@{host}")))
            for secret in (parts.password, parts.username):
                if secret:
                    text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class Environment:
    python: str
    runtime_version: str
    built: bool  # False when it came from the cache


class Environments:
    """Builds and caches function environments under `root`."""

    def __init__(self, root: Path, *, runtimes: dict[str, Runtime], default_sdk: str) -> None:
        self._root = root
        self._runtimes = runtimes
        self._default_sdk = default_sdk
        self._locks: dict[str, asyncio.Lock] = {}
        root.mkdir(parents=True, exist_ok=True)

    def _spec(self, requirements: str, runtime: str, index_urls: list[str]) -> str:
        lines = requirements.strip()
        if "cognite-sdk" not in requirement_names(requirements):
            # Every function gets a working `client`, as on CDF.
            lines = f"{lines}\ncognite-sdk=={self._default_sdk}".strip()
        return json.dumps(
            {
                "requirements": lines,
                "interpreter": self._runtimes[runtime].version,
                "index_urls": index_urls,
            },
            sort_keys=True,
        )

    async def ensure(
        self,
        *,
        requirements: str,
        runtime: str,
        index_url: str | None,
        extra_index_urls: list[str],
    ) -> Environment:
        """The environment for these inputs, built now unless it is cached."""
        if runtime not in self._runtimes:
            raise BuildFailed(f"Runtime {runtime} is not available on this server")
        index_urls = [index_url or "", *extra_index_urls]
        spec = self._spec(requirements, runtime, index_urls)
        key = hashlib.sha256(spec.encode()).hexdigest()[:32]
        target = self._root / key
        version = self._runtimes[runtime].version
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            python = target / "bin" / "python"
            if python.exists():
                (target / ".last-used").touch()
                return Environment(str(python), version, built=False)
            await self._build(
                target, json.loads(spec)["requirements"], runtime, index_url, extra_index_urls
            )
            (target / ".last-used").touch()
            return Environment(str(python), version, built=True)

    async def _build(
        self,
        target: Path,
        requirements: str,
        runtime: str,
        index_url: str | None,
        extra_index_urls: list[str],
    ) -> None:
        staging = target.with_name(target.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        uv_bin = uv.find_uv_bin()
        secrets = [u for u in (index_url, *extra_index_urls) if u]
        await self._uv(
            [
                uv_bin,
                "venv",
                "--quiet",
                "--relocatable",
                "--python",
                self._runtimes[runtime].interpreter,
                str(staging),
            ],
            secrets,
        )
        requirements_file = staging / "fnhost-requirements.txt"
        requirements_file.write_text(requirements + "\n")
        install = [
            uv_bin,
            "pip",
            "install",
            "--python",
            str(staging / "bin" / "python"),
            "-r",
            str(requirements_file),
        ]
        if index_url:
            install += ["--index-url", index_url]
        for url in extra_index_urls:
            install += ["--extra-index-url", url]
        try:
            await self._uv(install, secrets)
        except BuildFailed:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        staging.rename(target)

    async def _uv(self, command: list[str], secrets: list[str]) -> str:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        output = redact(out.decode(errors="replace"), secrets)
        if process.returncode != 0:
            raise BuildFailed(_summary(output), trace=output[-OUTPUT_TAIL_CHARS:])
        return output


def _summary(output: str) -> str:
    """One line a person can act on, from uv's output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        # uv draws its error chains with box characters; keep the words.
        text = line.lstrip(UV_DECORATION).removeprefix("error:").strip()
        if "not found in the package registry" in line or line.startswith((UV_ERROR, "error:")):
            return f"Could not install the requirements: {text}"
    return "Could not install the requirements: " + (lines[-1] if lines else "uv failed")
