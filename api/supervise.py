"""Run one solve on a worker process and police it: the one place that enforces the wall-clock
kill, the memory limit and cancellation, and relays incumbents, wherever the worker runs.

The local pool (:mod:`optplace.api.pool`) and a Dask worker (:mod:`optplace.api.dask_workers`)
both call :func:`run_solve` on a :class:`SubprocessWorker` they own: ``python -m
optplace.api.worker --fd N``, started and policed by the core supervisor
(:mod:`optplace.supervisor`: own session, parent-death signal, :func:`~optplace.supervisor.watch`,
:func:`~optplace.supervisor.kill_tree`, proportional-set-size memory of the whole tree). It never
imports the server's ``__main__``, and works inside daemonic processes such as Dask's workers.
After any ending but a result or an error, the worker (and every process it started) has been
killed: its owner starts a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from optplace.supervisor import Child, tree_memory_mb, watch

__all__ = ["Outcome", "OutcomeKind", "SolveRequest", "SubprocessWorker", "run_solve", "tree_memory_mb"]

OutcomeKind = Literal["result", "error", "killed", "cancelled", "crashed", "expired", "shutdown", "lost"]


@dataclass
class Outcome:
    """How a task ended. ``result_json`` is the final result, or for killed/cancelled/crashed
    tasks the last incumbent (None if there was none). ``lost``: this replica could not renew
    the job's claim in time and stopped it, leaving the job to the store's lease recovery."""

    kind: OutcomeKind
    result_json: str | None = None
    code: str = ""
    message: str = ""
    runtime_s: float = 0.0


@dataclass(frozen=True)
class SolveRequest:
    """What a worker needs for one solve, and the limits it runs under."""

    task_id: str
    instance_json: str
    method: str
    params: dict[str, Any]
    time_limit_s: float  # wall clock before the kill, grace aside
    grace_s: float
    memory_limit_mb: int  # 0: none


class SubprocessWorker(Child):
    """A solver worker: ``python -m optplace.api.worker --fd N [--method-module M]...`` (it gets
    this process's import path, as multiprocessing's spawn would give it)."""

    def __init__(self, method_modules: list[str]):
        super().__init__(
            [arg for module in method_modules for arg in ("--method-module", module)], "optplace.api.worker"
        )

    def exit_text(self) -> str:
        return super().exit_text().replace("child process", "solver worker process")


def run_solve(
    worker: Child,
    request: SolveRequest,
    *,
    stop: Callable[[], Outcome | None],
    on_incumbent: Callable[[str], None],
) -> Outcome:
    """Send ``request`` to ``worker`` and wait for its answer, relaying incumbents, until the time
    limit plus grace, the memory limit, or ``stop()`` returning an outcome ends it early (then the
    worker's process tree is killed, and the outcome carries the last incumbent)."""
    started = time.monotonic()
    incumbent: str | None = None
    final: Outcome | None = None

    def take(message: Any) -> bool:
        nonlocal incumbent, final
        if message[0] == "incumbent":
            incumbent = message[2]
            on_incumbent(incumbent)
            return False
        if message[0] == "result":
            final = Outcome("result", message[2])
        elif message[0] == "error":
            final = Outcome("error", incumbent, code=message[2], message=message[3])
        return final is not None

    worker.conn.send(("solve", request.task_id, request.instance_json, request.method, request.params))
    ending = watch(
        worker.conn,
        worker.alive,
        worker.pid,
        deadline=started + request.time_limit_s + request.grace_s,
        on_message=take,
        memory_limit_mb=request.memory_limit_mb,
        stop=stop,
    )
    if ending.kind == "finished":
        assert final is not None
        outcome = final
    elif ending.kind == "stopped":
        outcome = ending.stopped
        outcome.result_json = incumbent
    elif ending.kind == "deadline":
        outcome = Outcome(
            "killed",
            incumbent,
            code="time_limit",
            message=(
                f"stopped by the server at its time limit of {request.time_limit_s:g} s "
                f"plus {request.grace_s:g} s grace"
            ),
        )
    elif ending.kind == "memory_limit":
        outcome = Outcome(
            "killed",
            incumbent,
            code="memory_limit",
            message=(
                f"stopped by the server: the solve used {ending.used_mb:.0f} MB, above its memory limit of "
                f"{request.memory_limit_mb} MB (OPTPLACE_MAX_SOLVE_MEMORY_MB)"
            ),
        )
    else:
        outcome = Outcome("crashed", incumbent, code="worker_crashed", message=worker.exit_text())
    outcome.runtime_s = time.monotonic() - started
    if outcome.kind not in ("result", "error"):
        worker.kill()
    return outcome
