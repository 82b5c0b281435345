"""Solves on a Dask cluster (``OPTPLACE_DASK_SCHEDULER``), with the local pool's semantics.

Each slot of the replica's pool submits its task with :meth:`DaskBackend.run`. On the Dask
worker, :func:`solve_on_dask_worker` runs the solve on a worker process of its own
(:class:`~optplace.api.supervise.SubprocessWorker`, kept warm per Dask thread and replaced after
a kill, like a local slot's) through the same :func:`~optplace.api.supervise.run_solve` as the
local pool, so the time limit plus grace, the hard kill of the process tree, the memory limit
(measured on the Dask worker's machine) and incumbent verification are the very same code.

Two Dask ``Variable`` objects per task connect the replica and the Dask worker (decision: Dask's
own channel rather than the store, so that Dask workers need no database credentials and a
SQLite store works with a Dask cluster on the same machine; a Variable keeps only its latest
value, so the scheduler holds at most one incumbent per running task):

* ``progress`` (worker -> replica): ``{"run", "seq", "result_json"}``, set when the solve starts
  and at each incumbent; the replica polls it every :data:`POLL_S` and stores new incumbents;
* ``control`` (replica -> worker): ``{"beat", "cancel"}``; the replica bumps ``beat`` every
  :data:`BEAT_S` and sets ``cancel`` to stop the solve (a cancellation, a shutdown, a lost claim).
  The worker polls it every :data:`CONTROL_POLL_S`, and also stops the solve when ``beat`` has
  not moved for ``orphan_after_s`` (half a lease): its replica died, and the job must be stopped
  before another replica may claim it.

The replica also keeps its own deadline (start + time limit + grace + :data:`SLACK_S`) in case the
Dask worker stops answering. A Dask worker that dies mid-task is a ``crashed`` outcome (Dask's
retries are off for these tasks). Plugins named by ``OPTPLACE_METHOD_MODULES`` must be importable
on the Dask workers.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from optplace.api.supervise import Outcome, SolveRequest, SubprocessWorker, run_solve

log = logging.getLogger("optplace.api")

POLL_S = 0.1  # how often the replica looks at a task's progress
BEAT_S = 1.0  # how often the replica tells the worker it is still there
CONTROL_POLL_S = 0.25  # how often the worker looks at its control variable
SLACK_S = 10.0  # beyond the worker's own deadline, before the replica gives up on it
CANCEL_WAIT_S = 15.0  # how long the replica waits for a stopped task to report its end


class DaskBackend:
    """The pool backend that runs each slot's solves on a Dask cluster."""

    kind = "dask"

    def __init__(self, address: str, size: int, method_modules: list[str], *, orphan_after_s: float):
        self.address = address
        self.size = size
        self.method_modules = list(method_modules)
        self.orphan_after_s = orphan_after_s
        self.client: Any = None

    def start(self) -> None:
        from optplace.extras import require

        distributed = require("distributed", "batch", "OPTPLACE_DASK_SCHEDULER (solves on a Dask cluster)")
        self.client = distributed.Client(self.address, timeout="30s", set_as_default=False)

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close(timeout=10)

    def alive(self) -> int:
        """The slots, when the scheduler is connected and has a worker; else 0."""
        client = self.client
        if client is None or client.status != "running":
            return 0
        try:
            workers = client.scheduler_info(n_workers=-1).get("workers", {})
        except Exception:
            return 0
        return self.size if workers else 0

    def replace(self, index: int) -> None:
        """Nothing to do: the Dask worker replaced its killed worker process itself."""

    def run(
        self, index: int, request: SolveRequest, stop: Callable[[], Outcome | None], on_incumbent: Callable[[str], None]
    ) -> Outcome:
        from distributed import Variable

        channel = f"optplace-{request.task_id}-{uuid.uuid4().hex[:8]}"
        control = Variable(f"{channel}-control", client=self.client)
        progress = Variable(f"{channel}-progress", client=self.client)
        control.set({"beat": 0, "cancel": False})
        progress.set({"run": None, "seq": 0, "result_json": None})
        payload = {
            "request": asdict(request),
            "channel": channel,
            "method_modules": self.method_modules,
            "orphan_after_s": self.orphan_after_s,
        }
        future = self.client.submit(solve_on_dask_worker, payload, key=channel, pure=False, retries=0)
        incumbent: list[str] = []  # the last one relayed, if any
        try:
            return self._follow(future, request, control, progress, stop, on_incumbent, incumbent)
        except Exception as error:  # lost contact with the scheduler: stop the task if we still can
            log.exception("lost track of solve %s on the Dask cluster", request.task_id)
            with contextlib.suppress(Exception):
                control.set({"beat": -1, "cancel": True})
            with contextlib.suppress(Exception):
                future.cancel()
            return Outcome(
                "crashed",
                incumbent[-1] if incumbent else None,
                code="worker_crashed",
                message=f"lost contact with the Dask cluster: {type(error).__name__}: {error}",
            )
        finally:
            for variable in (control, progress):
                with contextlib.suppress(Exception):
                    variable.delete()

    def _follow(
        self,
        future: Any,
        request: SolveRequest,
        control: Any,
        progress: Any,
        stop: Callable[[], Outcome | None],
        on_incumbent: Callable[[str], None],
        relayed: list[str],
    ) -> Outcome:
        """Relay incumbents and heartbeats until the task ends or must stop (see the module docstring)."""
        beat = 0
        seen: tuple[Any, int] = (None, 0)
        incumbent: str | None = None
        started: float | None = None
        next_beat = time.monotonic() + BEAT_S
        outcome: Outcome | None = None
        while not future.done():
            now = time.monotonic()
            stopped = stop()
            overdue = started is not None and now > started + request.time_limit_s + request.grace_s + SLACK_S
            if stopped is None and overdue:
                stopped = Outcome(
                    "killed",
                    code="time_limit",
                    message=(
                        f"stopped by the server at its time limit of {request.time_limit_s:g} s plus "
                        f"{request.grace_s:g} s grace (the Dask worker did not answer)"
                    ),
                )
            if stopped is not None:
                control.set({"beat": beat, "cancel": True})
                if started is not None:  # let the worker kill its process and report
                    with contextlib.suppress(Exception):
                        future.result(timeout=CANCEL_WAIT_S)
                future.cancel()
                outcome = stopped
                break
            if now >= next_beat:
                beat += 1
                control.set({"beat": beat, "cancel": False})
                next_beat = now + BEAT_S
            state = progress.get()
            if (state["run"], state["seq"]) != seen:
                seen = (state["run"], state["seq"])
                if started is None or state["seq"] == 0:
                    started = now  # a run began (Dask may re-run a task whose worker died)
                if state["result_json"] is not None:
                    incumbent = state["result_json"]
                    relayed[:] = [incumbent]
                    on_incumbent(incumbent)
            with contextlib.suppress(Exception):  # returns as soon as the task ends (its error: below)
                future.result(timeout=POLL_S)
        if outcome is None:
            try:
                outcome = Outcome(**future.result())
            except Exception as error:  # the Dask worker died, or the task could not run there
                outcome = Outcome(
                    "crashed",
                    code="worker_crashed",
                    message=f"the Dask worker running the solve failed: {type(error).__name__}: {error}",
                )
        if outcome.kind != "result":
            if outcome.result_json is None:
                outcome.result_json = incumbent
            elif outcome.result_json != incumbent:  # reported just before the end: store it like any
                on_incumbent(outcome.result_json)
        return outcome


# -- on the Dask worker ----------------------------------------------------------------------

_warm: dict[int, SubprocessWorker] = {}  # one worker process per Dask worker thread
_warm_lock = threading.Lock()


def _worker_for_this_thread(method_modules: list[str]) -> SubprocessWorker:
    key = threading.get_ident()
    with _warm_lock:
        worker = _warm.get(key)
    if worker is not None and worker.alive():
        return worker
    if worker is not None:
        worker.kill()
    worker = SubprocessWorker(method_modules)
    with _warm_lock:
        if not _warm:
            atexit.register(_stop_warm_workers)
        _warm[key] = worker
    return worker


def _stop_warm_workers() -> None:
    with _warm_lock:
        workers = list(_warm.values())
        _warm.clear()
    for worker in workers:
        worker.stop()


def solve_on_dask_worker(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one solve on this Dask worker under the local pool's rules (see the module docstring);
    returns the :class:`Outcome` as a dict."""
    from distributed import Variable, get_client

    client = get_client()
    request = SolveRequest(**payload["request"])
    control = Variable(f"{payload['channel']}-control", client=client)
    progress = Variable(f"{payload['channel']}-progress", client=client)
    orphan_after_s = float(payload["orphan_after_s"])
    worker = _worker_for_this_thread(list(payload["method_modules"]))
    run = uuid.uuid4().hex
    seq = 0
    progress.set({"run": run, "seq": seq, "result_json": None})
    last_beat: Any = None
    beat_seen = time.monotonic()
    next_look = 0.0

    def stop() -> Outcome | None:
        nonlocal last_beat, beat_seen, next_look
        now = time.monotonic()
        if now < next_look:
            return None
        next_look = now + CONTROL_POLL_S
        try:
            state = control.get(timeout=CONTROL_POLL_S)
        except Exception:  # deleted (the replica gave up on it) or unreachable: judged by the beat
            state = None
        if state is not None and state.get("cancel"):
            return Outcome("cancelled")
        beat = state.get("beat") if state is not None else last_beat
        if beat != last_beat:
            last_beat, beat_seen = beat, now
        elif now - beat_seen > orphan_after_s:
            return Outcome(
                "cancelled", code="orphaned", message="the server that asked for this solve stopped answering"
            )
        return None

    def on_incumbent(result_json: str) -> None:
        nonlocal seq
        seq += 1
        progress.set({"run": run, "seq": seq, "result_json": result_json})

    outcome = run_solve(worker, request, stop=stop, on_incumbent=on_incumbent)
    if outcome.kind not in ("result", "error"):
        with _warm_lock:
            _warm.pop(threading.get_ident(), None)  # run_solve killed it; the next task starts a fresh one
    return asdict(outcome)
