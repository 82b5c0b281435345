"""A test-only method, loaded into a server with ``OPTPLACE_METHOD_MODULES=tests.api.slow_method``.

``test_sleep`` places like first_fit, reports that placement as an incumbent, then sleeps for
``options.sleep_s`` seconds ignoring its time limit (the incumbent's message names the solving
process, so that a test can check that a kill was real): a solver that overruns, to test the
server's wall-clock kill, cancellation and restart survival. It is registered as a baseline so
that ``auto`` (which runs the heuristics) never picks it up.
"""

from __future__ import annotations

import time

from pydantic import Field

from optplace.api.worker import report_incumbent
from optplace.domain import Instance
from optplace.heuristics.greedy import first_fit
from optplace.options import MethodOptions
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register


class SleepOptions(MethodOptions):
    sleep_s: float = Field(default=60.0, ge=0, le=3600, description="How long to sleep after the incumbent.")


class CrashOptions(MethodOptions):
    exit_code: int = Field(default=7, ge=0, le=255, description="The exit code the process dies with.")


@register(
    "test_sleep", "Test only: first_fit, reported as an incumbent, then a long sleep", "baseline", options=SleepOptions
)
def test_sleep(instance: Instance, params: SolveParams) -> MethodOutput:
    import os

    output = first_fit(instance, params)
    output.message = f"incumbent from process {os.getpid()}"  # so that a test can check the process died
    report_incumbent(output)
    time.sleep(SleepOptions.of(params).sleep_s)
    output.message = "slept to the end"
    return output


@register("test_crash", "Test only: reports an incumbent, then the process dies", "baseline", options=CrashOptions)
def test_crash(instance: Instance, params: SolveParams) -> MethodOutput:
    import os

    report_incumbent(first_fit(instance, params))
    os._exit(CrashOptions.of(params).exit_code)


@register("test_overload", "Test only: a buggy method that piles every application onto one accelerator", "baseline")
def test_overload(instance: Instance, params: SolveParams) -> MethodOutput:
    target = instance.nodes[0].accelerators[0].name
    return MethodOutput(placement={a.name: target for a in instance.applications})
