"""Which Python runtimes (py310 ... py314) this machine really has, and where."""

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = ("py310", "py311", "py312", "py313", "py314")


@dataclass(frozen=True)
class Runtime:
    name: str
    interpreter: str
    version: str  # e.g. "Python 3.11.7"


def _minor(name: str) -> str:
    return f"3.{name.removeprefix('py3')}"


def _candidates(name: str, configured: dict[str, str]) -> list[str]:
    minor = _minor(name)
    found = [configured[name]] if name in configured else []
    if f"{sys.version_info.major}.{sys.version_info.minor}" == minor:
        found.append(sys.executable)
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    # pyenv's shims are slow to start and only stand for the versions found here directly.
    if (which := shutil.which(f"python{minor}")) and not which.startswith(f"{pyenv_root}/shims/"):
        found.append(which)
    found += sorted(glob.glob(f"{pyenv_root}/versions/{minor}.*/bin/python{minor}"), reverse=True)
    found += [f"/usr/bin/python{minor}", f"/usr/local/bin/python{minor}"]
    return found


def _probe(interpreter: str, minor: str) -> str | None:
    """The interpreter's version string, if it runs and is the wanted minor version."""
    try:
        result = subprocess.run(
            [interpreter, "-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = result.stdout.strip()
    if result.returncode != 0 or not version.startswith(minor + "."):
        return None
    return f"Python {version}"


def find(name: str, configured: dict[str, str]) -> Runtime | None:
    """The interpreter of one supported runtime, if this machine has a working one."""
    for candidate in _candidates(name, configured):
        version = _probe(candidate, _minor(name))
        if version is not None:
            # Resolve symlinks and shims so environments point at the real interpreter.
            return Runtime(name, str(Path(candidate).resolve()), version)
    return None


def discover(configured: dict[str, str]) -> dict[str, Runtime]:
    """Every supported runtime with a working interpreter; `configured` names some explicitly."""
    found = {name: find(name, configured) for name in SUPPORTED}
    return {name: runtime for name, runtime in found.items() if runtime is not None}
