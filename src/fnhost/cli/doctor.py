"""`fnhost doctor`: what isolation and limits function code would really get on this machine;
with the Ray executor, the cluster's nodes, their function instances and the calls they run."""

import typer

from fnhost import isolation, sandbox
from fnhost.cli.platform import load_settings
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


# Longest an instance may take to say what it runs before it is left out of the listing.
INSTANCE_ANSWER_SECONDS = 5.0


def _ray_cluster(address: str) -> None:
    """The cluster's nodes, the instances on each and the calls they run."""
    try:
        from fnhost.executor.ray import cluster
    except ModuleNotFoundError as error:
        if error.name != "ray":
            raise
        typer.echo("ray cluster: Ray is not installed here: pip install 'fnhost[ray]'", err=True)
        raise typer.Exit(1) from None
    cluster.connect(address)
    try:
        nodes = cluster.survey(timeout_seconds=INSTANCE_ANSWER_SECONDS)
    finally:
        cluster.disconnect()
    typer.echo(f"ray cluster: {address}")
    for node in nodes:
        if not node.alive:
            typer.echo(f"  node {node.node_id} ({node.address}): lost")
        elif not node.takes_instances:
            typer.echo(f"  node {node.node_id} ({node.address}): runs no function (no fnhost_node)")
        else:
            count = len(node.instances)
            typer.echo(f"  node {node.node_id} ({node.address}): {count} instance(s)")
        for name, described in node.instances:
            running = ", ".join(map(str, described.calls)) or "none"
            typer.echo(
                f"    {name}: function {described.function_id}, worker pid {described.pid}, "
                f"calls running: {running}"
            )


def doctor() -> None:
    """Show how function code is isolated on this machine, and the limits of a call; with the
    Ray executor, the cluster's nodes, their function instances and the calls they run."""
    settings = load_settings()
    if settings.executor.executor == "ray":
        assert settings.executor.ray_address is not None
        _ray_cluster(settings.executor.ray_address)
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
