"""Fixtures for the batch tests: a small generated set, a subprocess environment, helpers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optplace.generate import write_set

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.batch.plugins"
THREE_METHODS = "knapsack_first_fit,first_fit,test_slow_first_fit"


@pytest.fixture
def instance_set(tmp_path: Path) -> Path:
    """Three small seed-like instances (12 applications each) with a manifest."""
    out = tmp_path / "set"
    write_set(out, family="hetero", count=3, seed=10, n_apps=12, command="test fixture")
    return out


@pytest.fixture
def task_env() -> dict[str, str]:
    """Environment for batch subprocesses: the repository root importable (for the test plugin)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def batch_command(paths: list[Path], out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "optplace", "batch", *map(str, paths), "--methods", THREE_METHODS,
        "--plugin", PLUGIN, "--out", str(out), "--no-progress", "--time-limit", "30", *extra,
    ]  # fmt: skip


def complete_lines(path: Path) -> list[dict]:
    """Every line of a results file, asserting each is a complete JSON row."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "the results file must end with a complete line"
    return [json.loads(line) for line in data.splitlines()]


def wait_for_rows(path: Path, count: int, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
    """Block until ``path`` holds at least ``count`` complete rows (or fail if the process ends first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"batch ended (rc {process.returncode}) before writing {count} rows")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    pytest.fail(f"no {count} rows within {timeout_s} s")
