"""Batch optimisation: every (instance, method) pair as one isolated task with a hard deadline.

Each task runs ``optplace.solve.solve`` in a fresh Python process (``python -m optplace.batch
--worker``), so a method that ignores its time limit, leaks memory or crashes costs one row, never
the batch. The parent kills a task at ``time limit + grace`` and records an error row with stop
reason ``time_limit``. An unreadable or invalid instance becomes an error row whose ``errors``
name the file and the field (from :class:`optplace.io.InstanceError`).

Results go to a JSON Lines file, one row per task, appended by the parent alone as soon as the
row exists: one ``write`` of the complete line, then ``fsync``. A rerun reads the file, skips the
tasks it already holds (a task is identified by the instance path, the file's SHA-256, the method
and the parameters), and ignores a torn last line left by a crash (it is cut off before appending).
Ctrl-C stops launching, kills the running tasks and leaves only complete rows.

Local runs use a pool of ``--jobs`` threads, each babysitting one task process; no extra service.
Task processes are forked from warm supervisor children (:mod:`optplace.supervisor`) that have
optplace and the registered methods already imported (milliseconds per task instead of about
0.5 s for a fresh interpreter), and never re-run the caller's ``__main__``, so :func:`run_batch`
works from a script without a main guard; ``launcher="subprocess"`` starts a fresh interpreter
per task instead. Either way a task at its deadline is killed with its whole process tree
(:func:`optplace.supervisor.kill_tree`), and the kernel kills it if the batch dies.
With ``scheduler="tcp://host:port"`` the same isolated tasks are submitted to a Dask distributed
cluster, and each Dask worker starts and polices the task process itself. The instance's content
travels with the task, so workers need no shared file system; rows come back to this process,
which alone writes the results file.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import json
import logging
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from optplace.supervisor import ChildPool, kill_tree, set_parent_death_signal

ROW_SCHEMA = "optplace.batch/1"
DEFAULT_TIME_LIMIT_S = 60.0
_VERSION_PACKAGES = ("optplace", "numpy", "scipy", "pydantic", "highspy", "ortools", "pyomo")


@dataclass(frozen=True)
class Task:
    """One (instance file, method, parameters) pair; ``task_id`` identifies it across reruns."""

    task_id: str
    instance_path: str
    file_sha256: str | None  # None when the file cannot be read
    method: str
    params: dict[str, Any]
    deadline_s: float  # wall-clock kill time of the task process, from its start
    plugins: tuple[str, ...] = ()  # modules imported before solving (they register extra methods)
    memory_limit_mb: float | None = None  # address-space limit of the task process (RLIMIT_AS)
    instance_text: str | None = None  # the file's content, shipped to remote workers (not part of the id)


@dataclass
class BatchSummary:
    """What a batch run did; ``interrupted`` when Ctrl-C (or SIGTERM) stopped it early."""

    out: str
    planned: int = 0
    skipped: int = 0  # already in the results file
    completed: int = 0  # rows written by this run
    ok: int = 0
    errors: int = 0
    time_limit_kills: int = 0
    interrupted: bool = False
    torn_line_dropped: bool = False
    wall_s: float = 0.0
    counts_by_status: dict[str, int] = field(default_factory=dict)


# --- planning ------------------------------------------------------------------------------------


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders give their ``*.json`` files (sorted, ``manifest.json`` excluded).

    Missing paths are kept: they become error rows naming the file, like any unreadable instance.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(p for p in sorted(path.glob("*.json")) if p.name != "manifest.json")
        else:
            out.append(path)
    seen: set[str] = set()
    unique = []
    for path in out:
        key = os.path.normpath(str(path))
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def resolve_methods(spec: str | Sequence[str]) -> list[str]:
    """Method names from ``"a,b"``; ``kind:baseline`` selects every registered method of that kind.

    Raises ValueError naming the unknown method or kind.
    """
    from optplace.registry import get_method, list_methods

    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not items:
        raise ValueError("no methods given; use e.g. --methods first_fit,auto or kind:baseline")
    names: list[str] = []
    for item in items:
        if item.startswith("kind:"):
            kind = item.removeprefix("kind:")
            chosen = [m.name for m in list_methods() if m.kind == kind]
            if not chosen:
                kinds = sorted({m.kind for m in list_methods()})
                raise ValueError(f"no registered method has kind {kind!r}; kinds present: {', '.join(kinds)}")
            names.extend(chosen)
        else:
            names.append(get_method(item).name)
    return list(dict.fromkeys(names))


def file_sha256(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def plan_tasks(
    paths: Sequence[Path],
    methods: Sequence[str],
    params: dict[str, Any],
    grace_s: float,
    plugins: Sequence[str] = (),
    memory_limit_mb: float | None = None,
) -> list[Task]:
    """Every (path, method) pair, instances in the given order, methods in the given order."""
    time_limit = params.get("time_limit_s") or DEFAULT_TIME_LIMIT_S
    tasks = []
    for path in paths:
        sha = file_sha256(path)
        for method in methods:
            key = {
                "instance_path": os.path.normpath(str(path)),
                "file_sha256": sha,
                "method": method,
                "params": params,
                **({"plugins": list(plugins)} if plugins else {}),
            }
            task_id = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
            tasks.append(
                Task(
                    task_id,
                    str(path),
                    sha,
                    method,
                    dict(params),
                    float(time_limit) + grace_s,
                    tuple(plugins),
                    memory_limit_mb,
                )
            )
    return tasks


# --- the results file ----------------------------------------------------------------------------


def read_results(path: str | Path, repair: bool = False) -> tuple[list[dict[str, Any]], bool]:
    """Rows of a results file, and whether a torn last line (no newline: a crash mid-write) was found.

    With ``repair`` the torn tail is cut off so that appending starts on a fresh line. Complete
    lines that are not JSON objects are skipped.
    """
    path = Path(path)
    if not path.exists():
        return [], False
    data = path.read_bytes()
    torn = bool(data) and not data.endswith(b"\n")
    end = data.rfind(b"\n") + 1 if torn else len(data)
    if torn and repair:
        with open(path, "r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    rows = []
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows, torn


def latest_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per task: the last one written (a rerun with ``retry_errors`` appends a newer row)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[row.get("task_id") or f"row{len(latest)}"] = row
    return list(latest.values())


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (which strict JSON cannot hold) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class ResultWriter:
    """Appends complete rows to a JSONL file: one ``os.write`` per line, then ``fsync``.

    Holds an exclusive ``flock`` so that two batches cannot write the same file at once.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not on POSIX: no lock
            pass
        except OSError:
            os.close(self.fd)
            raise RuntimeError(f"{self.path} is being written by another batch; wait for it or choose --out") from None

    def append(self, row: dict[str, Any]) -> None:
        line = (json.dumps(json_safe(row), separators=(",", ":"), allow_nan=False, default=str) + "\n").encode()
        view = memoryview(line)
        while view:  # a regular file takes it in one write; loop only for the pathological case
            written = os.write(self.fd, view)
            view = view[written:]
        os.fsync(self.fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- one task --------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """Host and package versions, recorded with every row."""
    versions: dict[str, str | None] = {}
    for package in _VERSION_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def _base_row(task: Task) -> dict[str, Any]:
    return {
        "schema": ROW_SCHEMA,
        "task_id": task.task_id,
        "instance_path": task.instance_path,
        "file_sha256": task.file_sha256,
        "method": task.method,
        "params": task.params,
        "seed": task.params.get("seed"),
        "threads": task.params.get("threads"),
        "time_limit_s": task.params.get("time_limit_s"),
    }


def _error_row(task: Task, code: str, message: str, stop_reason: str = "error", **extra: Any) -> dict[str, Any]:
    return {
        **_base_row(task),
        "status": "error",
        "stop_reason": stop_reason,
        "error_code": code,
        "message": message,
        **extra,
    }


def run_task(task: Task, info_path: str | None = None) -> dict[str, Any]:
    """Load the instance, solve it through ``optplace.solve.solve`` and build the result row.

    Runs inside the task process. Never raises for a bad instance or a failing method: those are
    rows. The placement is verified by ``solve``; a placement the evaluator rejects is an error row
    with ``error_code = "verification_failed"``. Before solving, the instance's facts (size, load,
    family, method kind) go to ``info_path``, so that a row for a task killed later still has them.
    """
    from optplace.generate import offered_load
    from optplace.io import InstanceError
    from optplace.params import SolveParams
    from optplace.registry import get_method
    from optplace.solve import PlacementVerificationError, solve

    started_at = time.time()
    t0 = time.perf_counter()
    env = environment()
    for module in task.plugins:
        importlib.import_module(module)

    def finish(row: dict[str, Any]) -> dict[str, Any]:
        row.update(
            started_at=round(started_at, 3),
            wall_s=round(time.perf_counter() - t0, 4),
            host=env["host"],
            environment=env,
            worker_pid=os.getpid(),
        )
        return row

    try:
        instance = _load_instance(task)
    except InstanceError as error:
        return finish(
            _error_row(
                task,
                "invalid_instance",
                str(error),
                errors=[{"file": task.instance_path, **entry} for entry in error.errors],
            )
        )
    provenance = instance.provenance if isinstance(instance.provenance, dict) else {}
    info = {
        "instance_name": instance.name,
        "family": provenance.get("family"),
        "generator_seed": provenance.get("seed"),
        "n_applications": len(instance.applications),
        "n_accelerators": len(instance.accelerators()),
        "offered_load": round(offered_load(instance), 6),
        "objectives_order": [o.value for o in instance.objectives],
    }
    method_info = get_method(task.method)
    info["method_kind"] = method_info.kind
    info["may_violate_slo"] = method_info.may_violate_slo
    if info_path is not None:
        _write_row(info, info_path)
    try:
        params = SolveParams.model_validate(task.params)
        result = solve(instance, task.method, params)
    except PlacementVerificationError as error:
        return finish(_error_row(task, "verification_failed", str(error), **info))
    except Exception as error:  # a crash inside solve: record it, the batch goes on
        return finish(_error_row(task, "exception", f"{type(error).__name__}: {error}", **info))
    slo_violations = [v for v in result.violations if v.code != "not_hosted"]
    unplaced_reasons: dict[str, int] = {}
    for item in result.unplaced:
        unplaced_reasons[item.reason.value] = unplaced_reasons.get(item.reason.value, 0) + 1
    row = {
        **_base_row(task),
        **info,
        "status": result.status.value,
        "stop_reason": result.stop_reason.value,
        "objective_name": result.objective_name,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "objectives": result.objectives,
        "hosted": result.hosted,
        "hosted_without_violation": result.hosted_without_violation,
        "violates_slo": result.violates_slo,
        "n_violations": len(slo_violations),
        "violating_applications": len({v.application for v in slo_violations if v.application}),
        "accelerators_used": int(result.objectives.get("min_accelerators", 0)) if result.objectives else 0,
        "unplaced_reasons": unplaced_reasons,
        "runtime_s": result.runtime_s,
        "solver": result.solver,
        "solver_version": result.solver_version,
        "optplace_version": result.optplace_version,
        "input_hash": result.input_hash,
        "message": result.message,
        "stats": result.stats,
        "placement": result.placement(),
    }
    return finish(row)


def _load_instance(task: Task) -> Any:
    """The task's instance: from the shipped text when there is one (Dask), else from the file."""
    from optplace.io import InstanceError, load_instance, parse_instance

    if task.instance_text is None:
        return load_instance(task.instance_path)
    try:
        data = json.loads(task.instance_text)
    except json.JSONDecodeError as error:
        entry = {
            "field": "",
            "pointer": "",
            "code": "invalid_json",
            "message": f"not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}",
        }
        raise InstanceError(task.instance_path, [entry]) from None
    return parse_instance(data, task.instance_path)


def _limit_memory(limit_mb: float | None) -> None:
    """Cap the task's address space, so a runaway model build fails with MemoryError (an error row)."""
    if limit_mb is None:
        return
    try:
        import resource

        limit = int(limit_mb * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _worker_main(result_path: str) -> int:
    """Entry of the task process: read the task from stdin, write the row to ``result_path``."""
    parent = os.getppid()
    set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        return 1

    def watch_parent() -> None:  # fallback where prctl is unavailable
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch_parent, daemon=True).start()
    data = json.load(sys.stdin)
    task = Task(**{**data, "plugins": tuple(data.get("plugins", ()))})
    _limit_memory(task.memory_limit_mb)
    _write_row(run_task(task, result_path + ".info"), result_path)
    return 0


class _SubprocessLaunch:
    """A task as a fresh interpreter (``python -m optplace.batch --worker``): works anywhere, ~0.5 s to start."""

    def __init__(self, task: Task, result_path: str, log_path: str):
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "optplace.batch", "--worker", result_path],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches the batch, which decides
            )
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.write(json.dumps(asdict(task)).encode())
            self.process.stdin.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float) -> bool:
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


class _ForkLaunch:
    """A task forked from a warm supervisor child (:mod:`optplace.supervisor`) that has optplace and
    the methods imported: milliseconds to start, and the caller's ``__main__`` is never re-run.
    The task process leads its own process group, so killing it leaves the warm child serving."""

    def __init__(self, task: Task, result_path: str, log_path: str):
        self.pool = _task_children(task.plugins)
        self.child = self.pool.take()
        self.task_pid: int | None = None
        self.exit_code: int | None = None
        self.finished = False
        self.released = False
        self.reusable = False
        self.child.conn.send(
            ("run", _forked_main, {"task": asdict(task), "result_path": result_path, "log_path": log_path})
        )

    @property
    def pid(self) -> int:
        """The task process once it said so; the supervisor child before (killing it kills both)."""
        return self.task_pid if self.task_pid is not None else self.child.pid

    def wait(self, timeout: float) -> bool:
        """True once the task process ended (the supervisor child says ``finished``)."""
        deadline = time.monotonic() + timeout
        while not self.finished:
            try:
                if not self.child.conn.poll(max(0.0, deadline - time.monotonic())):
                    return False
                message = self.child.conn.recv()
            except (EOFError, OSError):  # the supervisor child itself died
                self.finished, self.exit_code = True, self.child.exit_code_after_kill()
                break
            if message[0] == "emit" and message[1] == "pid":
                self.task_pid = message[2]
            elif message[0] == "finished":
                self.finished, self.reusable, self.exit_code = True, bool(message[1]), message[2]
        if not self.released:
            self.released = True
            if self.reusable:
                self.pool.give_back(self.child)
            else:
                self.child.kill()
        return True

    @property
    def returncode(self) -> int | None:
        return self.exit_code


_CHILDREN_LOCK = threading.Lock()
_CHILDREN: dict[tuple[str, ...], ChildPool] = {}


def _task_children(plugins: Sequence[str]) -> ChildPool:
    """The warm supervisor children for tasks with these plug-ins (their modules preloaded)."""
    from optplace.registry import BUILTIN_METHOD_MODULES

    key = tuple(plugins)
    with _CHILDREN_LOCK:
        if key not in _CHILDREN:
            _CHILDREN[key] = pool = ChildPool(
                ["optplace.batch", "optplace.solve", "optplace.io", "optplace.generate", *BUILTIN_METHOD_MODULES, *key],
                keep=os.cpu_count() or 2,
            )
            atexit.register(pool.close)
        return _CHILDREN[key]


def warm_forkserver(plugins: Sequence[str] = (), count: int = 1) -> None:
    """Start ``count`` supervisor children (and their imports) now, so that no task's deadline pays for it."""
    pool = _task_children(plugins)
    children = [pool.take() for _ in range(max(1, count))]
    for child in children:
        pool.give_back(child)


def _forked_main(payload: dict[str, Any], emit: Callable[[str, Any], None]) -> None:
    """Entry of a forked task process: own session, output to the log, row to ``result_path``."""
    os.setsid()  # own process group: killable as a group without the warm child that forked it
    emit("pid", os.getpid())
    fd = os.open(payload["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    task_data = payload["task"]
    task = Task(**{**task_data, "plugins": tuple(task_data.get("plugins", ()))})
    _limit_memory(task.memory_limit_mb)
    _write_row(run_task(task, payload["result_path"] + ".info"), payload["result_path"])


def _write_row(row: dict[str, Any], result_path: str) -> None:
    tmp = result_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(json_safe(row), handle, allow_nan=False, default=str)
    os.replace(tmp, result_path)


def default_launcher() -> str:
    """``fork`` (from a warm supervisor child) where the platform can fork; else ``subprocess``."""
    return "fork" if hasattr(os, "fork") else "subprocess"


def run_isolated(
    task: Task | dict[str, Any], stop: threading.Event | None = None, launcher: str = "subprocess"
) -> dict[str, Any] | None:
    """Run one task in its own process and police its deadline; returns the row.

    ``launcher`` is ``"subprocess"`` (a fresh interpreter; what Dask workers use) or ``"fork"``
    (from a preloaded forkserver; the local default). Returns ``None`` only when ``stop`` is set
    (the batch was interrupted): the task is then not done and a rerun does it.
    """
    if isinstance(task, dict):
        task = Task(**{**task, "plugins": tuple(task.get("plugins", ()))})
    with tempfile.TemporaryDirectory(prefix="optplace-task-") as tmp:
        result_path = os.path.join(tmp, "row.json")
        log_path = os.path.join(tmp, "log.txt")
        started = time.perf_counter()
        launch = (_ForkLaunch if launcher == "fork" else _SubprocessLaunch)(task, result_path, log_path)
        killed_at_deadline = False
        while not launch.wait(0.1):
            if stop is not None and stop.is_set():
                _kill(launch)
                return None
            if time.perf_counter() - started > task.deadline_s:
                killed_at_deadline = True
                _kill(launch)
                break
        wall = round(time.perf_counter() - started, 4)
        if killed_at_deadline:
            row = _error_row(
                task,
                "killed_at_deadline",
                f"the task process did not finish within {task.deadline_s:g} s (time limit plus grace) and was killed",
                stop_reason="time_limit",
            )
        elif os.path.exists(result_path):
            with open(result_path, encoding="utf-8") as handle:
                row = json.load(handle)
            row["task_wall_s"] = wall
            row["launcher"] = launcher
            return row
        else:
            code = launch.returncode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            row = _error_row(task, "worker_crashed", f"the task process ended without a result ({how})")
            row["log_tail"] = _tail(log_path)
        with contextlib.suppress(OSError, ValueError), open(result_path + ".info", encoding="utf-8") as handle:
            row.update(json.load(handle))  # what the task learnt about its instance before it died
        env = environment()
        row.update(
            wall_s=wall,
            task_wall_s=wall,
            launcher=launcher,
            host=env["host"],
            environment=env,
            started_at=round(time.time() - wall, 3),
        )
        return row


def _kill(launch: _SubprocessLaunch | _ForkLaunch) -> None:
    """Kill the task process and everything it started (it leads its own process group)."""
    kill_tree(launch.pid)
    launch.wait(5.0)


def _tail(path: str, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


# --- the batch -----------------------------------------------------------------------------------


def run_batch(
    paths: Sequence[str | Path],
    methods: str | Sequence[str],
    out: str | Path,
    *,
    time_limit_s: float | None = None,
    jobs: int = 1,
    seed: int = 0,
    threads: int | None = None,
    grace_s: float | None = None,
    options: dict[str, Any] | None = None,
    scheduler: str | None = None,
    retry_errors: bool = False,
    plugins: Sequence[str] = (),
    launcher: str | None = None,
    memory_limit_mb: float | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Run every (instance, method) task not yet in ``out``; see the module docstring."""
    log = log or (lambda text: print(text, file=sys.stderr))
    started = time.perf_counter()
    for module in plugins:  # so that their methods resolve here too
        importlib.import_module(module)
    if launcher not in (None, "fork", "subprocess"):
        raise ValueError(f"launcher must be 'fork' or 'subprocess', not {launcher!r}")
    method_names = resolve_methods(methods)
    instance_paths = expand_paths(paths)
    if not instance_paths:
        raise ValueError("no instance files found in the given paths")
    params: dict[str, Any] = {"seed": seed}
    if time_limit_s is not None:
        params["time_limit_s"] = float(time_limit_s)
    else:
        params["time_limit_s"] = DEFAULT_TIME_LIMIT_S
    if threads is not None:
        params["threads"] = threads
    if options:
        params["options"] = dict(options)
        from optplace.registry import check_options, get_method

        for name in method_names:  # every method must take them: refuse before any task runs
            check_options(get_method(name), params["options"])
    if grace_s is None:
        grace_s = max(10.0, 0.25 * params["time_limit_s"])
    tasks = plan_tasks(instance_paths, method_names, params, grace_s, plugins, memory_limit_mb)

    summary = BatchSummary(out=str(out), planned=len(tasks))
    with ResultWriter(out) as writer:
        rows, torn = read_results(out, repair=True)
        if torn:
            summary.torn_line_dropped = True
            log(f"note: {out} ended with a torn line (an interrupted write); it was dropped and that task reruns")
        done = {
            row["task_id"]
            for row in latest_rows(rows)
            if "task_id" in row and not (retry_errors and row.get("status") == "error")
        }
        todo = [t for t in tasks if t.task_id not in done]
        summary.skipped = len(tasks) - len(todo)
        if summary.skipped:
            log(f"resuming: {summary.skipped} of {len(tasks)} tasks are already in {out}")
        bar = _progress_bar(len(tasks), summary.skipped, progress)

        def record(row: dict[str, Any]) -> None:
            writer.append(row)
            summary.completed += 1
            status = row.get("status", "error")
            summary.counts_by_status[status] = summary.counts_by_status.get(status, 0) + 1
            if status == "error":
                summary.errors += 1
                if row.get("error_code") == "killed_at_deadline":
                    summary.time_limit_kills += 1
            else:
                summary.ok += 1
            if bar is not None:
                bar.set_postfix(ok=summary.ok, error=summary.errors, killed=summary.time_limit_kills, refresh=False)
                bar.update(1)

        stop = threading.Event()
        with _interrupt_sets(stop):
            try:
                if scheduler:
                    _run_dask(scheduler, todo, jobs, record, stop)
                else:
                    _run_local(todo, jobs, record, stop, launcher or default_launcher())
            finally:
                if bar is not None:
                    bar.close()
        summary.interrupted = stop.is_set()
    summary.wall_s = round(time.perf_counter() - started, 3)
    return summary


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from optplace.exceptions import MissingExtraError
    from optplace.extras import require

    try:
        tqdm = require("tqdm", "batch", "the progress bar of optplace batch").tqdm
    except MissingExtraError as missing:
        logging.getLogger("optplace.batch").info("no progress bar: %s", missing)
        return None
    return tqdm(total=total, initial=initial, unit="task", desc="batch", file=sys.stderr, dynamic_ncols=True)


@contextlib.contextmanager
def _interrupt_sets(stop: threading.Event):
    """While active, SIGINT/SIGTERM set ``stop`` (a second SIGINT raises KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run_local(
    todo: list[Task], jobs: int, record: Callable[[dict], None], stop: threading.Event, launcher: str
) -> None:
    """A pool of ``jobs`` threads, each running one task process at a time; rows recorded here."""
    pending = list(reversed(todo))
    if launcher == "fork" and todo:
        warm_forkserver(todo[0].plugins, min(max(1, jobs), len(todo)))
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="optplace-task") as pool:
        running: set[Future] = set()
        while (pending or running) and not stop.is_set():
            while pending and len(running) < max(1, jobs) and not stop.is_set():
                running.add(pool.submit(run_isolated, pending.pop(), stop, launcher))
            finished, running = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in finished:
                row = future.result()
                if row is not None:
                    record(row)
        if stop.is_set():
            # Running tasks see ``stop`` and kill their process; finished rows are still recorded.
            for future in running:
                row = future.result()
                if row is not None:
                    record(row)


def _run_dask(
    scheduler: str, todo: list[Task], jobs: int, record: Callable[[dict], None], stop: threading.Event
) -> None:
    """Submit the isolated tasks to a Dask cluster; at most ``jobs`` in flight (0: all at once).

    Each Dask task starts and polices its own task process (:func:`run_isolated`), so the deadline
    holds on the worker. On interrupt the futures are cancelled; a task process already running
    on a worker ends at its deadline at the latest.
    """
    from optplace.extras import require

    Client = require("distributed", "batch", "optplace batch --scheduler (Dask)").Client
    client = Client(scheduler, timeout="30s", set_as_default=False)
    try:
        limit = jobs if jobs and jobs > 0 else max(1, len(todo))
        pending = list(reversed(todo))
        in_flight: dict[Any, Task] = {}

        def submit() -> None:
            task = pending.pop()
            payload = asdict(task)
            # Ship the content: workers need not see this machine's files. An unreadable file is not
            # shipped, and the worker's error row names it.
            with contextlib.suppress(OSError, UnicodeDecodeError):
                payload["instance_text"] = Path(task.instance_path).read_text(encoding="utf-8")
            future = client.submit(run_isolated, payload, key=f"optplace-task-{task.task_id}", pure=False)
            in_flight[future] = task

        while in_flight or pending:
            if stop.is_set():
                break
            while pending and len(in_flight) < limit:
                submit()
            finished = [future for future in in_flight if future.done()]
            if not finished:
                time.sleep(0.1)
            for future in finished:
                task = in_flight.pop(future)
                try:
                    row = future.result()
                except Exception as error:  # the worker died or could not run the task
                    row = _error_row(task, "scheduler_error", f"{type(error).__name__}: {error}")
                if row is not None:
                    record(row)
        if in_flight:
            client.cancel(list(in_flight), force=True)
    finally:
        client.close(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(_worker_main(sys.argv[2]))
    print("usage: python -m optplace.batch --worker RESULT_PATH  (internal; use 'optplace batch')", file=sys.stderr)
    sys.exit(2)
