"""`fnhost doctor`: what isolation and limits function code would really get on this machine."""

import typer

from fnhost import isolation, sandbox
from fnhost.settings import Settings


def _limits(settings: Settings, isolated: sandbox.Isolation) -> list[str]:
    sandboxed = isolated.kind == "bwrap"
    held = isolated.cgroups is not None
    applied = held or isolated.prlimit is not None
    calls, limits = settings.calls, settings.sandbox

    def state(enforced: bool) -> str:
        return "" if enforced else "  [not enforced here]"

    return [
        f"cpu:         the function's cpu (default {calls.function_cpu_default:g} cores)"
        f"{state(held)}",
        f"memory:      the function's memory (default {calls.function_memory_default_gb:g} "
        f"GB, at most {calls.function_memory_max_gb:g} GB), "
        f"{'all processes of a call' if held else 'per process'}{state(applied)}",
        f"processes:   {limits.call_max_processes} processes and threads "
        f"(FNHOST_CALL_MAX_PROCESSES){state(sandboxed)}",
        f"open files:  {limits.call_max_open_files} (FNHOST_CALL_MAX_OPEN_FILES){state(applied)}",
        f"file size:   {limits.call_max_file_size_mb} MB (FNHOST_CALL_MAX_FILE_SIZE_MB)"
        f"{state(applied)}",
        f"/tmp:        {limits.call_tmp_size_mb} MB (FNHOST_CALL_TMP_SIZE_MB){state(sandboxed)}",
        f"wall time:   {calls.call_timeout_seconds} s (FNHOST_CALL_TIMEOUT_SECONDS)",
        f"network:     {limits.call_network} (FNHOST_CALL_NETWORK)"
        f"{state(sandboxed or limits.call_network == 'allow')}",
    ]


def doctor() -> None:
    """Show how function code is isolated on this machine, and the limits of a call."""
    settings = Settings.load()
    try:
        isolated = isolation.detect(settings)
    except isolation.SandboxUnavailable as error:
        typer.echo(f"isolation: unavailable: {error}", err=True)
        raise typer.Exit(1) from None
    try:
        typer.echo(f"isolation: {isolated.kind}")
        typer.echo(f"  {isolated.summary()}")
        if isolated.kind == "bwrap":
            typer.echo(f"  tools: {isolated.bwrap}, {isolated.setpriv}, {isolated.prlimit}")
        typer.echo(f"resources: {isolated.resource_control}")
        typer.echo(f"  {isolated.resources_summary()}")
        typer.echo(f"seccomp: {'on' if isolated.seccomp is not None else 'off'}")
        typer.echo(f"  {isolated.seccomp_summary()}")
        typer.echo("limits of a call:")
        for line in _limits(settings, isolated):
            typer.echo(f"  {line}")
    finally:
        if isolated.cgroups is not None:
            isolated.cgroups.close()
