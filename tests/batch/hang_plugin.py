"""Misbehaving methods for the batch tests: one never returns, one allocates far too much memory.

A separate module from ``plugins.py`` so that ``auto`` in the other tests never runs them.
"""

from __future__ import annotations

import time

import numpy as np

from optplace.registry import MethodOutput, register


@register("test_hang", "ignores its time limit and never returns: the batch must kill it", "heuristic")
def hang(instance, params) -> MethodOutput:
    while True:
        time.sleep(1.0)


@register("test_memory_hog", "allocates about 4 GB: a memory limit must stop it", "heuristic")
def memory_hog(instance, params) -> MethodOutput:
    block = np.ones(500_000_000)  # 4 GB of float64
    return MethodOutput(placement={}, message=str(block.sum()))
