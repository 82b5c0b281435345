"""The memory limit's measurement: the cheap path (descendants from /proc, resident size first)
decides exactly as the full proportional-set-size walk does."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from optplace.supervisor import _descendants, tree_memory_mb

# Every process reports "ready" only once its interpreter has started, so the tree's memory no
# longer grows while the test measures it (a child still loading Python made the sizes differ).
CHILD = "import time; print('ready', flush=True); time.sleep(60)"
TREE = (
    "import subprocess, sys, time\n"
    f"kids = [subprocess.Popen([sys.executable, '-c', {CHILD!r}], stdout=subprocess.PIPE, text=True)"
    " for _ in range(2)]\n"
    "assert all(kid.stdout.readline().strip() == 'ready' for kid in kids)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture
def tree() -> Iterator[psutil.Process]:
    """A process with two children, all killed afterwards."""
    parent = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
    root = psutil.Process(parent.pid)
    yield root
    for process in [*root.children(recursive=True), root]:
        process.kill()
    parent.wait()


def test_descendants_are_psutils(tree: psutil.Process) -> None:
    """The /proc children lists find the same processes as psutil's scan of every process."""
    found = sorted(p.pid for p in _descendants(tree))
    assert len(found) == 2 and found == sorted(p.pid for p in tree.children(recursive=True))


def test_a_bounded_measurement_decides_like_the_full_one(tree: psutil.Process) -> None:
    """Below, around and above the tree's size, 'over the limit' is the same with and without at_most."""
    full = tree_memory_mb(tree.pid)
    assert full > 0
    for limit in (1.0, full / 2, full * 0.9, full * 3, 4096.0):
        assert (tree_memory_mb(tree.pid, limit) > limit) == (full > limit), limit
    assert tree_memory_mb(tree.pid, 1.0) == pytest.approx(full, rel=0.2)  # over: the full walk's answer


def test_a_vanished_process_counts_zero() -> None:
    """A pid that no longer exists measures 0 MB either way."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert tree_memory_mb(gone.pid) == 0.0 and tree_memory_mb(gone.pid, 10.0) == 0.0
