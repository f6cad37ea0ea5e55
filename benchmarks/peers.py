"""The Celery app of the benchmark (`celery -A benchmarks.peers worker`), configured from the
environment the runner sets, with the tasks of benchmarks/tasks.py."""

import os

from celery import Celery

from benchmarks import tasks

CELERY_URL = os.environ.get("BENCH_CELERY_URL", "redis://127.0.0.1:6379/14")
CELERY_QUEUE = "fnhost-bench"


def make_celery_app() -> Celery:
    """A Celery app with connections of its own (a forked client must not share its parent's)."""
    app = Celery("fnhost-bench", broker=CELERY_URL, backend=CELERY_URL)
    app.conf.update(
        task_default_queue=CELERY_QUEUE,
        worker_prefetch_multiplier=1,
        result_expires=600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = make_celery_app()


celery_app.task(name="bench.add_one")(tasks.add_one)
celery_app.task(name="bench.hold")(tasks.hold)
