"""Built-in methods stream live incumbents to a running job: the worker listens on the library's channel."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from optplace.api import worker
from optplace.generate import generate_instance


@pytest.mark.parametrize("method", ["auto", "configuration", "milp_highs", "local_search"])
def test_worker_sends_verified_incumbents_before_the_result(method):
    """Solving in a worker sends incumbent messages, each a verified result, then the final result."""
    instance = generate_instance("hetero", 40, None, 4)
    here, there = multiprocessing.Pipe()
    params = {"time_limit_s": 3, "threads": 1}
    if method == "local_search":
        params["options"] = {"initial_placement": {}}  # start empty: every insertion is an improvement
    answer = worker._solve(there, "t1", instance.model_dump_json(), method, params)
    messages = []
    while here.poll(0):
        messages.append(here.recv())
    assert answer[0] == "result"
    incumbents = [json.loads(m[2]) for m in messages if m[0] == "incumbent"]
    assert incumbents, f"{method} streamed no incumbent"
    # An incumbent is "feasible", or "optimal" once a bound meets it (auto proves this instance
    # within the 3 s since the configuration stage gets all of the exact time at 40 applications).
    assert all(r["status"] in ("feasible", "optimal") and not r["violates_slo"] for r in incumbents)
    assert all(r["bound"] == r["objective"] for r in incumbents if r["status"] == "optimal")
    hosted = [r["hosted"] for r in incumbents]
    assert hosted == sorted(hosted)
    assert json.loads(answer[2])["objective"] >= incumbents[-1]["objective"]
