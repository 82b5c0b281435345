"""The solver worker process: one solve at a time, read from a pipe, answered on the same pipe.

The server keeps ``workers`` of these alive (:mod:`optplace.api.pool`) and kills one, with its
child processes, when a solve outlives its time limit plus grace or its job is cancelled; a
fresh process takes its place (:mod:`optplace.api.supervise`). A Dask worker keeps them the same
way, started as ``python -m optplace.api.worker --fd N`` (:mod:`optplace.api.dask_workers`).
Messages (all plain tuples of strings and dicts):

* server -> worker: ``("solve", task_id, instance_json, method, params)`` or ``("stop",)``
* worker -> server: ``("ready", pid)`` once, then per solve any number of
  ``("incumbent", task_id, result_json)`` followed by exactly one ``("result", task_id, result_json)``
  or ``("error", task_id, code, message)``.

A re-placement (POST /v1/replan) travels the same way with the method name ``REPLAN_TASK``; its
``instance_json`` is then the whole ReplanRequest (instance, changes, method), and the answer a
ReplanResult. Incumbents are not streamed for it (a partial re-placement is no plan).

Incumbent streaming: the worker listens on the library's incumbent channel
(:func:`optplace.progress.listening`) while it solves. Every built-in method publishes there each
better placement it finds (through its :class:`optplace.progress.IncumbentLog`), and a plug-in
method may call :func:`report_incumbent`. The worker verifies each with the independent evaluator
(through ``optplace.solve.build_result``, exactly like a final answer) and sends it to the server,
which stores it at once as the job's best result so far, with ``stop_reason: interrupted``: what
the solve would be if it stopped there (a limit that then stops it replaces the reason). Outside a
worker nobody listens and the call does nothing, so a method may call it unconditionally.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from optplace.progress import listening, publish
from optplace.registry import MethodOutput

REPLAN_TASK = "replan"  # not a registered method: the task is optplace.replan on a ReplanRequest


def report_incumbent(output: MethodOutput) -> None:
    """Publish ``output`` (a feasible placement better than any reported before) as the running
    solve's best result so far. A no-op outside a worker process."""
    publish(output)


def _watch_parent(parent_pid: int) -> None:
    """Exit when the server dies, even in the middle of a solve (no orphaned solver processes)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(3)
        time.sleep(0.5)


def main(conn: Connection, method_modules: list[str], parent_pid: int) -> None:
    """Worker entry point (run as ``python -m optplace.api.worker --fd N``, see :mod:`optplace.api.supervise`)."""
    from optplace.registry import list_methods

    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    for module in method_modules:
        importlib.import_module(module)
    list_methods()  # import the built-in method modules now, not during the first solve
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, task_id, instance_json, method, params = message
        try:
            conn.send(_solve(conn, task_id, instance_json, method, params))
        except (BrokenPipeError, OSError):
            return


def _solve(conn: Connection, task_id: str, instance_json: str, method: str, params: dict[str, Any]) -> tuple:
    from optplace.domain import Instance
    from optplace.params import SolveParams
    from optplace.registry import get_method
    from optplace.result import StopReason
    from optplace.solve import PlacementVerificationError, build_result, solve

    if method == REPLAN_TASK:
        return _replan(task_id, instance_json, params)
    lock = threading.Lock()
    try:
        instance = Instance.model_validate_json(instance_json)
        solve_params = SolveParams.model_validate(params)
        info = get_method(method)
        checked = (
            instance
            if solve_params.objectives is None
            else instance.model_copy(update={"objectives": list(solve_params.objectives)})
        )
        started = time.perf_counter()

        def sink(output: MethodOutput) -> None:
            snapshot = replace(
                output,
                stop_reason=StopReason.INTERRUPTED,
                message=output.message or "the best placement so far; the solve had not finished",
            )
            try:
                result = build_result(
                    checked,
                    info.name,
                    solve_params,
                    snapshot,
                    time.perf_counter() - started,
                    may_violate_slo=info.may_violate_slo,
                )
            except PlacementVerificationError as error:
                print(f"optplace worker: rejected an incumbent: {error}", file=sys.stderr)
                return
            with lock:
                conn.send(("incumbent", task_id, result.model_dump_json()))

        with listening(sink):
            result = solve(instance, method, solve_params)
        return ("result", task_id, result.model_dump_json())
    except PlacementVerificationError as error:
        return ("error", task_id, "verification_failed", str(error))
    except Exception as error:
        return ("error", task_id, "internal_error", f"{type(error).__name__}: {error}")


def _main_from_command_line(argv: list[str]) -> int:
    """``python -m optplace.api.worker --fd N [--method-module M]...``: serve the pipe protocol on
    the inherited socket ``N`` for the parent process."""
    import argparse
    import socket

    parser = argparse.ArgumentParser(prog="python -m optplace.api.worker", description="internal: a solver worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--method-module", action="append", default=[])
    args = parser.parse_args(argv)
    # A Connection reads and writes whole messages on the socket's descriptor.
    conn = Connection(socket.socket(fileno=args.fd).detach())
    main(conn, args.method_module, os.getppid())
    return 0


def _replan(task_id: str, request_json: str, params: dict[str, Any]) -> tuple:
    from optplace.api.schemas import ReplanRequest
    from optplace.migration import PlanVerificationError, replan
    from optplace.params import SolveParams
    from optplace.solve import PlacementVerificationError

    try:
        body = ReplanRequest.model_validate_json(request_json)
        result = replan(body.instance, body.changes, body.method, SolveParams.model_validate(params))
        return ("result", task_id, result.model_dump_json())
    except (PlacementVerificationError, PlanVerificationError) as error:
        return ("error", task_id, "verification_failed", str(error))
    except Exception as error:
        return ("error", task_id, "internal_error", f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    # Run the importable module's copy, not this ``__main__`` one, so plug-in methods that
    # call ``optplace.api.worker.report_incumbent`` reach the same module the solve uses.
    from optplace.api import worker as importable

    sys.exit(importable._main_from_command_line(sys.argv[1:]))
