"""A test-only method that takes far more memory than a solve may: the server's per-solve memory
limit must stop it (``OPTPLACE_METHOD_MODULES=tests.api.hog_method``). No options, on purpose, so
that the same module loads into any version of the server."""

from __future__ import annotations

import time

from optplace.api.worker import report_incumbent
from optplace.domain import Instance
from optplace.heuristics.greedy import first_fit
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register

HOG_MB = 1500


@register("test_hog", f"Test only: reports an incumbent, then holds {HOG_MB} MB of written memory", "baseline")
def test_hog(instance: Instance, params: SolveParams) -> MethodOutput:
    output = first_fit(instance, params)
    report_incumbent(output)
    held = []
    for _ in range(HOG_MB):
        held.append(bytearray(b"x") * 2**20)  # written, so every page is resident
        time.sleep(0.002)
    time.sleep(60)
    return output
