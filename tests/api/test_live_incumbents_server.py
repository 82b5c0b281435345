"""Through the real server: a running job of each built-in exact method, the local search and auto
shows a verified incumbent before it finishes (docs/api.md, "Live incumbents")."""

from __future__ import annotations

import time

import pytest

from optplace.generate import generate_instance
from tests.api.conftest import wait_until_idle

METHODS = ["configuration", "milp_highs", "cpsat", "local_search", "auto"]
TIME_LIMIT_S = 4


@pytest.mark.slow
def test_a_running_job_of_each_method_shows_an_incumbent_before_its_result(start_server):
    """Each job is seen running with result_kind 'incumbent' (a feasible, verified result) before it completes."""
    server = start_server({"OPTPLACE_WORKERS": "1", "OPTPLACE_QUEUE_SIZE": "8"})
    http = wait_until_idle(server, 1)
    small = generate_instance("hetero", 60, None, 4).model_dump(mode="json")
    # The local search finishes 60 applications in well under a second (one publication at most,
    # easily missed by polling); from empty, 1,000 keep it improving until its time limit.
    large = generate_instance("hetero", 1000, None, 4).model_dump(mode="json")
    seen: dict[str, dict] = {}
    for method in METHODS:
        params: dict = {"time_limit_s": TIME_LIMIT_S, "threads": 1}
        instance = small
        if method == "local_search":
            params["options"] = {"initial_placement": {}}  # start empty: every insertion is an improvement
            instance = large
        job = http.post("/v1/jobs", json={"instance": instance, "method": method, "params": params})
        assert job.status_code == 202, job.text
        url = f"/v1/jobs/{job.json()['id']}"
        deadline = time.monotonic() + 10 * TIME_LIMIT_S + 30
        while time.monotonic() < deadline:
            state = http.get(url).json()
            if state["status"] == "running" and state["result_kind"] == "incumbent":
                seen.setdefault(method, state["result"])
            if state["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        assert state["status"] == "completed" and state["result_kind"] == "final", (method, state.get("error"))
        if method in seen:
            incumbent, final = seen[method], state["result"]
            assert incumbent["status"] == "feasible" and incumbent["stop_reason"] == "interrupted"
            assert not incumbent["violates_slo"] and incumbent["hosted"] == len(incumbent["assignments"])
            assert final["objective"] >= incumbent["objective"]  # max_hosted: never worse than what was shown
    assert sorted(seen) == sorted(METHODS), f"no incumbent seen while running: {sorted(set(METHODS) - set(seen))}"
