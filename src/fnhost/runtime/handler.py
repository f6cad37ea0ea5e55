"""Load a user's `handle` once, and run one call of it: the request (JSON) on stdin, stdout
and stderr as the call's logs, the outcome as one JSON object on the result descriptor.

Used by zygote.py inside the function's environment. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def user_trace(error: BaseException) -> str:
    """The traceback without this runtime's own frames, so it starts in the user's code."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


# OS errors that mean the call hit one of its resource limits (see fnhost.sandbox.Limits).
LIMIT_ERRNOS = {
    errno.EAGAIN: "processes",  # fork() or clone() past RLIMIT_NPROC
    errno.EMFILE: "open_files",
    errno.EFBIG: "file_size",
    errno.ENOSPC: "disk",
}


def _limit_hit(error: BaseException) -> str | None:
    """Which resource limit the error (or an error it arose from) comes from, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, MemoryError):
            return "memory"
        if isinstance(seen, OSError) and seen.errno in LIMIT_ERRNOS:
            return LIMIT_ERRNOS[seen.errno]
        if isinstance(seen, RuntimeError) and "can't start new thread" in str(seen):
            return "processes"
        seen = seen.__cause__ or seen.__context__
    return None


def _module_name(function_path: str) -> str:
    return function_path[: -len(".py")].replace("/", ".")


def _make_client(request: dict[str, Any]) -> Any:
    try:
        from cognite.client import ClientConfig, CogniteClient, global_config
        from cognite.client.credentials import Token
    except ImportError:
        sys.stderr.write(
            "fnhost: cognite-sdk is not installed in this function's environment; "
            "`client` is None\n"
        )
        return None
    global_config.disable_pypi_version_check = True
    return CogniteClient(
        ClientConfig(
            client_name="fnhost-function",
            project=request["project"],
            base_url=request["base_url"],
            credentials=Token(request["token"]),
        )
    )


# The handler's contract: the parameters `handle` may take (by name, any of them), and what
# each is, made from the call's request. The builder checks handlers against it at deploy time.
ARGUMENTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "data": lambda request: request.get("data"),
    "secrets": lambda request: request.get("secrets") or {},
    "function_call_info": lambda request: request["call_info"],
    "client": _make_client,
}
PARAMETERS = tuple(ARGUMENTS)


class NoHandle(TypeError):
    """The handler module defines no callable `handle`."""


def _arguments(handle: Callable[..., Any]) -> tuple[str, ...]:
    """The arguments `handle` takes; raises where its signature cannot be found (a builtin)."""
    return tuple(name for name in inspect.signature(handle).parameters if name in ARGUMENTS)


class Handler(NamedTuple):
    """The user's `handle`, and the arguments it takes (found once, when it is loaded; None:
    found, and failing, in each call, as the handler's own error)."""

    handle: Callable[..., Any]
    arguments: tuple[str, ...] | None


def load(code_dir: str, function_path: str, *, preload_client: bool = True) -> Handler:
    """Import the handler module from `code_dir` (the working directory of every call), and
    with `preload_client`, cognite-sdk too when `handle` takes `client`."""
    os.chdir(code_dir)
    sys.path.insert(0, code_dir)
    module = importlib.import_module(_module_name(function_path))
    handle = getattr(module, "handle", None)
    if not callable(handle):
        raise NoHandle(f"{function_path} defines no callable 'handle'")
    try:
        arguments: tuple[str, ...] | None = _arguments(handle)
    except (TypeError, ValueError):
        arguments = None
    if preload_client and arguments is not None and "client" in arguments:
        # Paid once per instance instead of once per call.
        with contextlib.suppress(ImportError):
            import cognite.client  # noqa: F401
    return Handler(handle, arguments)


def invoke(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    """Call the handler and describe the outcome as a JSON-able dict."""
    try:
        arguments = handler.arguments
        if arguments is None:
            arguments = _arguments(handler.handle)
        response = handler.handle(**{name: ARGUMENTS[name](request) for name in arguments})
    except BaseException as error:  # every failure of user code, SystemExit included
        return {
            "state": "failed",
            "message": describe(error),
            "trace": user_trace(error),
            "limit": _limit_hit(error),
        }
    try:
        encoded = json.dumps(response, allow_nan=False)
    except (TypeError, ValueError) as error:
        return {
            "state": "failed",
            "message": f"The function's return value is not JSON: {describe(error)}",
            "trace": "",
        }
    limit = request["response_max_bytes"]
    if len(encoded.encode()) > limit:
        return {
            "state": "failed",
            "message": f"The function's response is {len(encoded.encode())} bytes; "
            f"the limit is {limit} bytes",
            "trace": "",
        }
    return {"state": "completed", "response": encoded}


def _end_output() -> None:
    """End the call's stdout and stderr before its result, so that the server has all of its
    output once it has the result, without waiting for the process to exit. (/dev/null in their
    place, not closed: a thread of the handler may still print.)"""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return  # no descriptor left: the output ends when the process does
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


# os.read and os.write rather than file objects: less code run in each call's fresh fork,
# where every page that code touches is copied.


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 64 * 1024):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve_call(handler: Handler, result_fd: int) -> None:
    """Run the call whose request is on stdin, report on `result_fd`, and exit."""
    os.set_inheritable(result_fd, False)
    request = json.loads(_read_all(0))
    pid = os.getpid()
    outcome = invoke(handler, request)
    if os.getpid() != pid:
        # A process the handler forked returned through here: only the call itself reports.
        os._exit(0)
    sys.stdout.flush()
    sys.stderr.flush()
    _end_output()
    _write_all(result_fd, json.dumps(outcome).encode())
    os.close(result_fd)
    # Skip interpreter teardown: leftover threads or atexit hooks of user code must not keep
    # a finished call alive.
    os._exit(0)


# Exit codes of the deploy-time check.
CHECK_IMPORT_FAILED = 3
CHECK_NO_HANDLE = 4


def check(code_dir: str, function_path: str) -> int:
    """The deploy-time check, run in the function's environment: import the handler as a call
    would (the traceback of a failure on stderr); the process's exit code."""
    try:
        load(code_dir, function_path, preload_client=False)
    except NoHandle as error:
        sys.stderr.write(f"{error}\n")
        return CHECK_NO_HANDLE
    except BaseException as error:  # every failure of user code at import
        sys.stderr.write(user_trace(error))
        return CHECK_IMPORT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(check(sys.argv[1], sys.argv[2]))
