"""Methods registered only for the batch tests (imported by task processes via ``--plugin``)."""

from __future__ import annotations

import time

from optplace.heuristics.greedy import first_fit
from optplace.registry import MethodOutput, register


@register(
    "test_slow_first_fit", "first_fit after a pause (options.pause_s, default 1 s): keeps a batch busy", "heuristic"
)
def slow_first_fit(instance, params) -> MethodOutput:
    time.sleep(float(params.options.get("pause_s", 1.0)))
    return first_fit(instance, params)
