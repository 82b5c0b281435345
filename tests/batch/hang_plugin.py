"""A method that never returns, registered only for the deadline test (a separate module, so that
``auto`` in the other tests never runs it)."""

from __future__ import annotations

import time

from optplace.registry import MethodOutput, register


@register("test_hang", "ignores its time limit and never returns: the batch must kill it", "heuristic")
def hang(instance, params) -> MethodOutput:
    while True:
        time.sleep(1.0)
