"""Prometheus metrics of this process (prometheus-client's default registry, with the process's
own CPU, memory and file metrics). Each process (a server, a dispatcher) exposes its own.

Labels name projects, functions (by id), statuses, outcomes and route templates: never a call
id, nor anything a user wrote, so their number stays bounded.
"""

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Calls run from milliseconds (a warm call) to the timeout (ten minutes by default).
CALL_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
BUILD_SECONDS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
REQUEST_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

CALLS_ENDED = Counter(
    "fnhost_calls",
    "Calls that ended, by project, function and final status (ended by this process).",
    ["project", "function_id", "status"],
)
CALL_DURATION = Histogram(
    "fnhost_call_duration_seconds",
    "How long calls ran, from their start on an instance to their end.",
    ["project", "function_id"],
    buckets=CALL_SECONDS,
)
CALL_QUEUE_WAIT = Histogram(
    "fnhost_call_queue_wait_seconds",
    "How long calls waited from their acceptance (POST .../call, a schedule's tick) to their "
    "start.",
    ["project", "function_id"],
    buckets=CALL_SECONDS,
)
CALLS_RUNNING_HERE = Gauge(
    "fnhost_dispatcher_calls_running", "Calls running on this process's dispatcher."
)
CALLS_NOT_ENDED = Gauge(
    "fnhost_calls_in_state",
    "Calls not ended in the database (every server of it), by state: queued (accepted, waiting "
    "for a slot) or running.",
    ["state"],
)
INSTANCES_WARM = Gauge("fnhost_instances_warm", "Warm function instances of this process.")
INSTANCE_STARTS = Counter(
    "fnhost_instance_starts",
    "Function instances started, by outcome (started or failed).",
    ["outcome"],
)
BUILDS = Counter("fnhost_builds", "Function builds by outcome (ready or failed).", ["outcome"])
BUILD_DURATION = Histogram(
    "fnhost_build_duration_seconds",
    "How long builds took, from Deploying to Ready or Failed, by outcome.",
    ["outcome"],
    buckets=BUILD_SECONDS,
)
SCHEDULE_TICKS = Counter(
    "fnhost_schedule_ticks",
    "Schedule ticks by outcome: fired (a call was created) or refused (the overload limits "
    "skipped it).",
    ["outcome"],
)
HTTP_REQUESTS = Histogram(
    "fnhost_http_request_duration_seconds",
    "HTTP requests by method, route template and status, with their latency.",
    ["method", "route", "status"],
    buckets=REQUEST_SECONDS,
)


def exposition() -> tuple[bytes, str]:
    """Every metric of this process in Prometheus's text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
