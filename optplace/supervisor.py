"""The one process supervisor: start a child, watch its deadline and memory, kill its process tree.

Three places run work in other processes and police it: a solver's wall clock
(:mod:`optplace.isolation`), batch tasks (:mod:`optplace.batch`) and the service's workers
(:mod:`optplace.api.supervise`). They share what is written here:

* :class:`Child`: a fresh interpreter, ``python -m optplace.supervisor --fd N``, in its own
  session, talking over one end of a socket pair. It never imports the caller's ``__main__``
  (multiprocessing's ``spawn`` and ``forkserver`` re-run it in every child: a script without an
  ``if __name__ == "__main__":`` guard then solves twice, and a script read from standard input
  cannot be re-run at all), the terminal's Ctrl-C does not reach it (the parent decides), and the
  kernel kills it when the parent dies (Linux). It runs module-level targets
  ``target(payload, emit)``, each in a fork of itself (as a forkserver would, without the
  ``__main__``), so a warm child serves many solves and none sees what an earlier one left behind.
* :func:`watch`: the supervision loop: relay messages until one ends the run, the deadline
  passes, the process tree's memory exceeds a limit, or a stop check says so.
* :func:`kill_tree`, :func:`tree_memory_mb`, :func:`set_parent_death_signal`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

POLL_S = 0.05  # how often the loop checks the stop condition while the child computes
MEMORY_POLL_S = 0.25  # how often it measures the memory of the child's process tree
START_TIMEOUT_S = 120.0  # a fresh child imports numpy and pydantic; slow on a loaded machine
STOP_WAIT_S = 2.0  # how long a child asked to exit may take before it is killed

EndingKind = Literal["finished", "deadline", "memory_limit", "stopped", "crashed"]


@dataclass
class Ending:
    """Why :func:`watch` returned. ``stopped``: what the stop check returned; ``used_mb``: the
    measured memory for ``memory_limit``."""

    kind: EndingKind
    stopped: Any = None
    used_mb: float = 0.0


def watch(
    conn: Connection,
    alive: Callable[[], bool],
    pid: int | None,
    *,
    deadline: float | None,
    on_message: Callable[[Any], bool],
    memory_limit_mb: float = 0,
    stop: Callable[[], Any] | None = None,
) -> Ending:
    """Relay ``conn``'s messages to ``on_message`` (which returns True for the one that ends the run)
    until then, or until the monotonic ``deadline`` passes, the tree of ``pid`` uses more than
    ``memory_limit_mb`` (0: no limit), ``stop()`` returns something other than None, or the child
    dies. Kills nothing: the caller decides what each ending means (see :func:`kill_tree`)."""
    next_memory_check = time.monotonic()
    while True:
        now = time.monotonic()
        remaining = None if deadline is None else deadline - now
        if stop is not None and (stopped := stop()) is not None:
            return Ending("stopped", stopped=stopped)
        if remaining is not None and remaining <= 0:
            return Ending("deadline")
        if memory_limit_mb and now >= next_memory_check:
            next_memory_check = now + MEMORY_POLL_S
            if (used := tree_memory_mb(pid, memory_limit_mb)) > memory_limit_mb:
                return Ending("memory_limit", used_mb=used)
        wait = POLL_S if remaining is None else min(remaining, POLL_S)
        try:
            if conn.poll(wait):
                if on_message(conn.recv()):
                    return Ending("finished")
                continue
        except (EOFError, OSError):
            return Ending("crashed")
        # Messages may still sit in the pipe of a child that exited after sending them.
        if not alive() and not _readable(conn):
            return Ending("crashed")


def drain(conn: Connection, on_message: Callable[[Any], bool]) -> None:
    """Relay whatever complete messages a killed child left in the pipe."""
    while True:
        try:
            if not conn.poll(0):
                return
            message = conn.recv()
        except Exception:  # end of file, or a message cut short by the kill
            return
        on_message(message)


def _readable(conn: Connection) -> bool:
    try:
        return bool(conn.poll(0))
    except (EOFError, OSError):
        return False


def kill_tree(pid: int | None) -> None:
    """SIGKILL a process and every process it started (a solver may run its own children), its
    process group included when it leads one."""
    if pid is None:
        return
    import psutil

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    with contextlib.suppress(OSError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    for process in [*descendants]:
        with contextlib.suppress(psutil.Error):
            process.kill()
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def tree_memory_mb(pid: int | None, at_most: float | None = None) -> float:
    """Memory of a process and all its descendants, in MB: the proportional set size where the
    system reports it (Linux), so that pages shared between a parent and its forked children
    count once; the resident set size elsewhere. A process that vanished counts 0.

    With ``at_most``, a tree whose resident set size is within it answers that size: the
    proportional set size is never larger, so it is within the limit too, and reading it (a walk
    of every mapping, milliseconds per check) is left for trees that may be over."""
    if pid is None:
        return 0.0
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *_descendants(root)]
    except psutil.Error:
        return 0.0
    if at_most is not None:
        resident = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                resident += process.memory_info().rss
        if resident / 2**20 <= at_most:
            return resident / 2**20
    total = 0
    for process in processes:
        try:
            info = process.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            continue
    return total / 2**20


def _descendants(root: Any) -> list[Any]:
    """Every descendant of the psutil process ``root``: from Linux's /proc/PID/task/TID/children
    lists (microseconds), else, or when a process vanishes during the walk, from psutil's scan of
    every process on the machine (milliseconds)."""
    import psutil

    found: list[Any] = []
    pending = [root.pid]
    try:
        while pending:
            pid = pending.pop()
            for thread in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{thread}/children") as listing:
                    children = [int(child) for child in listing.read().split()]
                found += [psutil.Process(child) for child in children]
                pending += children
    except (OSError, ValueError, psutil.Error):
        return list(root.children(recursive=True))
    return found


def set_parent_death_signal() -> None:
    """On Linux, have the kernel kill this process when its parent dies (e.g. it is SIGKILLed)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_environment() -> dict[str, str]:
    """This process's environment with its import path, as multiprocessing's spawn would pass it
    (a child must find the modules its targets live in, a script's own directory included)."""
    path = [os.getcwd() if entry == "" else entry for entry in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


class Child:
    """``python -m <module> --fd N [args]`` in its own session, with the parent's end of a socket
    pair in ``conn``; waits for its ``("ready",)`` message. ``module`` defaults to this module's
    target runner (:func:`main`); :mod:`optplace.api.worker` speaks its own protocol."""

    def __init__(self, args: Sequence[str] = (), module: str = "optplace.supervisor"):
        parent, child = socket.socketpair()
        with child:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, "--fd", str(child.fileno()), *args],
                pass_fds=[child.fileno()],
                env=child_environment(),
                start_new_session=True,  # killable as a group; the terminal's Ctrl-C reaches the parent only
            )
        self.conn = Connection(parent.detach())
        if not self.conn.poll(START_TIMEOUT_S):
            self.kill()
            raise RuntimeError(f"a child process ({module}) did not start in time")
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise RuntimeError(f"a child process ({module}) exited while starting: {self.exit_text()}") from None
        if message[0] != "ready":
            self.kill()
            raise RuntimeError(f"unexpected first message from a child process ({module}): {message[0]!r}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def exitcode(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        """Kill the child and everything it started; close the pipe."""
        if self.alive():
            kill_tree(self.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.conn.close()

    def stop(self) -> None:
        """Ask the child to exit; kill it if it does not within :data:`STOP_WAIT_S`."""
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        try:
            self.process.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            self.conn.close()

    def exit_code_after_kill(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        return self.exitcode()

    def exit_text(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)
        return f"the child process exited unexpectedly (exit code {self.exitcode()})"


class ChildPool:
    """Warm :class:`Child` runners for :func:`run_target`, started on demand: one is taken per run
    and given back after a clean end (a killed one is gone). Thread-safe; idle children exit with
    this process."""

    def __init__(self, preload: Sequence[str], keep: int = 2):
        self.preload = list(preload)
        self.keep = keep
        self._idle: list[Child] = []
        self._lock = threading.Lock()

    def take(self) -> Child:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    return child
                child.conn.close()
        return Child([arg for module in self.preload for arg in ("--preload", module)])

    def give_back(self, child: Child) -> None:
        with self._lock:
            if len(self._idle) < self.keep and child.alive():
                self._idle.append(child)
                return
        child.stop()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.stop()


@dataclass
class RunEnding:
    """How :func:`run_target` ended: ``finished`` (the target returned or raised: its traceback
    came as an ``("error", text)`` message), ``deadline`` (killed at it), ``crashed`` (the child
    died; ``exitcode``)."""

    kind: Literal["finished", "deadline", "crashed"]
    exitcode: int | None = None


def run_target(
    pool: ChildPool,
    target: Callable[[Any, Callable[[str, Any], None]], None],
    payload: Any,
    *,
    deadline: float | None,
    on_message: Callable[[str, Any], None],
) -> RunEnding:
    """Run ``target(payload, emit)`` on a child of ``pool``; each ``emit(kind, data)`` reaches
    ``on_message`` as it comes. At the monotonic ``deadline`` the child's tree is killed and what
    it sent before is kept. Any exception here (KeyboardInterrupt included) kills the child too:
    no solver outlives the call."""
    child = pool.take()
    done = False
    reusable = False

    def relay(message: Any) -> bool:
        nonlocal reusable
        if message[0] == "finished":
            reusable = bool(message[1])
            return True
        on_message(message[1], message[2])
        return False

    try:
        child.conn.send(("run", target, payload))
        ending = watch(child.conn, child.alive, child.pid, deadline=deadline, on_message=relay)
        if ending.kind == "finished":
            done = True
            return RunEnding("finished", 0)
        kill_tree(child.pid)
        drain(child.conn, relay)  # what it sent before the kill counts
        return RunEnding("deadline" if ending.kind == "deadline" else "crashed", child.exit_code_after_kill())
    finally:
        if done and reusable:
            pool.give_back(child)
        elif done:
            child.stop()
        else:
            child.kill()


def main(argv: list[str] | None = None) -> int:
    """The child's loop: import the preloads, say ready, run targets until told to stop.

    Each run is forked from this warm process (where the platform can fork), so no run sees what
    an earlier one left behind (a solver object, a cache) and every run starts with the preloads
    imported; this process reports the run's end, ``("finished", reusable, exit code)`` (a
    negative code: killed by that signal), once the fork has
    exited, with an error message first if it died without saying why. Without fork the run
    happens here and the child exits after it (``reusable`` False)."""
    parser = argparse.ArgumentParser(prog="python -m optplace.supervisor")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--preload", action="append", default=[])
    args = parser.parse_args(argv)
    conn = Connection(args.fd)
    set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills what it must
    for module in args.preload:
        with contextlib.suppress(ImportError):  # only a warm-up: the target's import says what is missing
            importlib.import_module(module)
    conn.send(("ready",))
    can_fork = hasattr(os, "fork")

    def emit(kind: str, data: Any) -> None:
        conn.send(("emit", kind, data))

    while True:
        try:
            message = conn.recv()
        except EOFError:
            return 0  # the parent went away or closed the pipe
        except Exception:  # the target or payload could not be unpickled here
            emit("error", traceback.format_exc())
            conn.send(("finished", True, 1))
            continue
        if message[0] == "stop":
            return 0
        _, target, payload = message
        if not can_fork:
            _run(target, payload, emit)
            conn.send(("finished", False, 0))
            return 0
        pid = os.fork()
        if pid == 0:  # the run's own process
            code = 0
            try:
                set_parent_death_signal()
                _run(target, payload, emit)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if code != 0:
            how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            emit("error", f"the solver process died ({how})")
        conn.send(("finished", True, code))


def _run(
    target: Callable[[Any, Callable[[str, Any], None]], None], payload: Any, emit: Callable[[str, Any], None]
) -> None:
    try:
        target(payload, emit)
    except BaseException:  # report everything; the caller goes on
        with contextlib.suppress(Exception):
            emit("error", traceback.format_exc())


if __name__ == "__main__":
    sys.exit(main())
