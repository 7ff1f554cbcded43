"""What every worker does besides running tasks, wired in through Celery's signals.

* Each stage task holds a lease while it runs (`workers.lease`), taken before the task body
  and released after it, in the process that runs it;
* after each task, a job that has failed loses its intermediates (`workers.cleanup`), those
  this very attempt may just have written included;
* the worker's main process runs a monitor thread that re-queues the steps of dead workers
  (`workers.recovery`) and sweeps the machine's work dir, every third of a lease period.

The tasks themselves know nothing of this. `workers.app` lists this module among those each
worker imports at start; an in-process (eager) run only needs the clean-up, and imports it
where wanted.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery, signals

from core.settings import settings
from workers.app import app
from workers.cleanup import discard_if_failed
from workers.jobs import client, job_key, worker_name
from workers.lease import Lease
from workers.recovery import monitor_pass, wait_interval
from workers.tasks import StageTask, job_id_in

log = logging.getLogger(__name__)
_held: dict[str, Lease] = {}  # task id -> the lease its running attempt holds


@signals.task_prerun.connect
def take_lease(task_id: str, task: Any, args: tuple, kwargs: dict, **_: Any) -> None:
    """Lease the step this task is about to run (not in eager runs: nobody else could)."""
    if not isinstance(task, StageTask) or task.request.is_eager:
        return
    job_id = job_id_in(tuple(args or ()), dict(kwargs or {}))
    if not job_id:
        return
    lease = Lease(
        client(),
        job_key(job_id),
        job_id,
        task.record_name(tuple(args or ()), dict(kwargs or {})),
        task_id=task_id,
        seconds=settings().lease_seconds,
        holder=worker_name(task.request.hostname),
    )
    try:
        _held[task_id] = lease.hold()
    except Exception as exc:  # no lease: the broker's visibility timeout still applies
        log.warning("cannot take lease %s: %s", lease.key, exc)


@signals.task_postrun.connect
def end_attempt(task_id: str, task: Any, args: tuple, kwargs: dict, **_: Any) -> None:
    """Release the attempt's lease; if its job has failed, drop the job's intermediates."""
    lease = _held.pop(task_id, None)
    try:
        if lease is not None:
            lease.release()
        if isinstance(task, StageTask):
            job_id = job_id_in(tuple(args or ()), dict(kwargs or {}))
            if job_id:
                discard_if_failed(job_id)
    except Exception as exc:  # the lease lapses by itself; the monitor's sweep cleans later
        log.warning("after task %s: %s", task_id, exc)


class Monitor:
    """The worker's background pass: re-queue dead workers' steps, sweep the work dir."""

    def __init__(self, app: Celery):
        self.app = app
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vod-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while True:
            monitor_pass(self.app)
            if self._stop.wait(wait_interval()):
                return


_monitors: list[Monitor] = []  # the one of this worker process, once it is ready


@signals.worker_ready.connect
def start_monitor(**_: Any) -> None:
    if not _monitors:
        _monitors.append(Monitor(app))
        _monitors[0].start()


@signals.worker_shutting_down.connect
def stop_monitor(**_: Any) -> None:
    for monitor in _monitors:
        monitor.stop()
