"""Child-process targets for the isolation tests (module-level, so they pickle by reference)."""

from __future__ import annotations

import time


def stream_then_finish(payload, emit):
    for k in range(payload["count"]):
        emit("incumbent", k)
    emit("done", payload["count"])


def stream_then_hang(payload, emit):
    emit("incumbent", "early")
    emit("bound", 7.0)
    time.sleep(payload["sleep_s"])
    emit("incumbent", "too late")


def fail(payload, emit):
    emit("incumbent", "before the failure")
    raise RuntimeError("the solver blew up")


def report_pid_then_hang(payload, emit):
    import os

    emit("pid", os.getpid())
    emit("parent", os.getppid())
    time.sleep(payload["sleep_s"])


def crash(payload, emit):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)
