"""Run a solver in a child process under optplace's own wall clock.

Solver time limits are advice: a MILP solver may overrun its limit in presolve, in a long LP, or
in a callback. :func:`run_isolated` starts the work in a child process (``forkserver`` on Linux,
``spawn`` elsewhere; never plain ``fork``, which is unsafe in a threaded server), reads the
messages it streams (incumbents, bounds) as they come, and kills the child at the limit plus a
small grace. Whatever the child streamed before it was killed is kept, so a caller still holds
the best incumbent and bound at the limit.

The target is a module-level function ``target(payload, emit)``; ``emit(kind, data)`` sends one
picklable message to the parent. If the target raises, the parent receives an ``("error", text)``
message with the traceback.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Emit = Callable[[str, Any], None]
Target = Callable[[Any, Emit], None]

DEFAULT_GRACE_S = 1.0
TERMINATE_WAIT_S = 0.5
# Modules the fork server imports once, so each child starts without re-importing them (no solver:
# importing a solver stays the adapters' business, inside the child).
PRELOAD = ["optplace.formulations.assignment.worker", "optplace.cluster_state", "scipy.stats"]


@dataclass
class ChildOutcome:
    """What came back from one child run."""

    messages: list[tuple[str, Any]] = field(default_factory=list)
    exitcode: int | None = None
    killed: bool = False  # the parent stopped the child at the wall-clock limit
    error: str | None = None  # the child's traceback, if its target raised
    elapsed_s: float = 0.0
    isolated: bool = True  # False when it had to run in this process (see run_isolated)


def _context() -> Any:
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        with contextlib.suppress(Exception):
            ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _child_main(target: Target, payload: Any, conn) -> None:
    def emit(kind: str, data: Any) -> None:
        conn.send((kind, data))

    try:
        target(payload, emit)
    except BaseException:  # report everything, including KeyboardInterrupt, then exit
        with contextlib.suppress(Exception):
            conn.send(("error", traceback.format_exc()))
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def run_isolated(
    target: Target,
    payload: Any,
    *,
    time_limit_s: float | None,
    grace_s: float = DEFAULT_GRACE_S,
    on_message: Callable[[str, Any], None] | None = None,
) -> ChildOutcome:
    """Run ``target(payload, emit)`` in a child process; kill it at ``time_limit_s + grace_s``.

    ``on_message`` sees every message as it arrives (in the parent). A daemonic process cannot
    have children; there the target runs in this process and only the solver's own limit applies
    (``ChildOutcome.isolated`` is False).
    """
    started = time.monotonic()
    outcome = ChildOutcome()

    def record(kind: str, data: Any) -> None:
        outcome.messages.append((kind, data))
        if kind == "error":
            outcome.error = str(data)
        if on_message is not None:
            on_message(kind, data)

    if multiprocessing.current_process().daemon:
        outcome.isolated = False
        try:
            target(payload, record)
        except Exception:
            record("error", traceback.format_exc())
        outcome.elapsed_s = time.monotonic() - started
        return outcome

    ctx = _context()
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child_main, args=(target, payload, writer), name="optplace-solver", daemon=True)
    process.start()
    writer.close()  # the parent keeps only the read end, so a dead child reads as end-of-file
    deadline = None if time_limit_s is None else started + time_limit_s + grace_s
    try:
        while True:
            wait = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
            try:
                if reader.poll(wait):
                    kind, data = reader.recv()
                    record(kind, data)
                    continue
            except (EOFError, OSError):
                break  # the child closed its end: it finished (or died)
            if not process.is_alive() and not _readable(reader):
                break
            if deadline is not None and time.monotonic() >= deadline:
                outcome.killed = True
                _stop(process)
                _drain(reader, record)
                break
    finally:
        process.join(TERMINATE_WAIT_S)
        if process.is_alive():
            _stop(process)
        reader.close()
    outcome.exitcode = process.exitcode
    outcome.elapsed_s = time.monotonic() - started
    return outcome


def _readable(reader) -> bool:
    try:
        return bool(reader.poll(0))
    except (EOFError, OSError):
        return False


def _drain(reader, record: Callable[[str, Any], None]) -> None:
    """Read whatever complete messages the killed child left in the pipe."""
    while True:
        try:
            if not reader.poll(0):
                return
            kind, data = reader.recv()
        except Exception:  # a message cut short by the kill: nothing more to read
            return
        record(kind, data)


def _stop(process) -> None:
    process.terminate()
    process.join(TERMINATE_WAIT_S)
    if process.is_alive():
        process.kill()
        process.join(TERMINATE_WAIT_S)
