"""Run a solver in a child process under optplace's own wall clock.

Solver time limits are advice: a MILP solver may overrun its limit in presolve, in a long LP, or
in a callback. :func:`run_isolated` runs the work on a child of :mod:`optplace.supervisor` (a
fresh ``python -m optplace.supervisor`` interpreter, kept warm between solves, which never
re-runs the caller's ``__main__``: a plain script without a ``__main__`` guard, a script piped
through standard input and a notebook all work), reads the messages it streams (incumbents,
bounds) as they come, and kills the child's process tree at the limit plus a small grace.
Whatever the child streamed before it was killed is kept, so a caller still holds the best
incumbent and bound at the limit. Ctrl-C in the caller kills the child the same way.

The target is a module-level function ``target(payload, emit)``; ``emit(kind, data)`` sends one
picklable message to the parent. If the target raises, the parent receives an ``("error", text)``
message with the traceback.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optplace.supervisor import ChildPool, run_target

Emit = Callable[[str, Any], None]
Target = Callable[[Any, Emit], None]

DEFAULT_GRACE_S = 1.0
# Modules a child imports once when it starts, before its first run (no solver: importing a solver
# stays the adapters' business, inside the run).
PRELOAD = ["optplace.formulations.assignment.worker", "optplace.cluster_state", "scipy.stats"]


@dataclass
class ChildOutcome:
    """What came back from one child run."""

    messages: list[tuple[str, Any]] = field(default_factory=list)
    exitcode: int | None = None
    killed: bool = False  # the parent stopped the child at the wall-clock limit
    error: str | None = None  # the child's traceback, if its target raised
    elapsed_s: float = 0.0
    isolated: bool = True  # always: a supervisor child can be started from any process, daemonic too


_POOL = ChildPool(PRELOAD)
atexit.register(_POOL.close)


def run_isolated(
    target: Target,
    payload: Any,
    *,
    time_limit_s: float | None,
    grace_s: float = DEFAULT_GRACE_S,
    on_message: Callable[[str, Any], None] | None = None,
) -> ChildOutcome:
    """Run ``target(payload, emit)`` in a child process; kill it at ``time_limit_s + grace_s``.

    ``on_message`` sees every message as it arrives (in the parent).
    """
    started = time.monotonic()
    outcome = ChildOutcome()

    def record(kind: str, data: Any) -> None:
        outcome.messages.append((kind, data))
        if kind == "error":
            outcome.error = str(data)
        if on_message is not None:
            on_message(kind, data)

    deadline = None if time_limit_s is None else started + time_limit_s + grace_s
    ending = run_target(_POOL, target, payload, deadline=deadline, on_message=record)
    outcome.killed = ending.kind == "deadline"
    outcome.exitcode = ending.exitcode
    outcome.elapsed_s = time.monotonic() - started
    return outcome
