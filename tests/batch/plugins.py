"""Methods registered only for the batch tests (imported by task processes via ``--plugin``)."""

from __future__ import annotations

import time

from pydantic import Field

from optplace.heuristics.greedy import first_fit
from optplace.options import MethodOptions
from optplace.registry import MethodOutput, register


class PauseOptions(MethodOptions):
    pause_s: float = Field(default=1.0, ge=0, le=600, description="How long to pause before placing.")


@register(
    "test_slow_first_fit",
    "first_fit after a pause (options.pause_s, default 1 s): keeps a batch busy",
    "heuristic",
    options=PauseOptions,
)
def slow_first_fit(instance, params) -> MethodOutput:
    time.sleep(PauseOptions.of(params).pause_s)
    return first_fit(instance, params.model_copy(update={"options": {}}))
