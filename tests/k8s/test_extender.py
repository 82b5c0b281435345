"""The scheduler extender over HTTP: upstream-shaped request bodies (tests/k8s/data/extender),
upstream-exact replies, the stored plan, and a scripted scheduling cycle of 20 pods."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optplace.api.main import create_app
from optplace.domain import Instance, Objective
from optplace.k8s import scheme
from optplace.k8s.cluster import import_cluster
from optplace.result import SolveResult
from optplace.solve import solve
from tests.api.conftest import make_settings, wait_for
from tests.k8s.conftest import DATA, UPSTREAM, document
from tests.k8s.scheduler import ScriptedScheduler

FILTER_KEYS = ["Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"]


def body(name: str) -> dict[str, Any]:
    return json.loads((DATA / "extender" / name).read_text())


def set_plan(client: TestClient, instance: Instance, result: SolveResult) -> dict[str, Any]:
    response = client.put(
        "/v1/extender/plan",
        json={"instance": instance.model_dump(mode="json"), "result": result.model_dump(mode="json")},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def planned(
    tmp_path_factory: pytest.TempPathFactory, cluster: Instance, plan_result: SolveResult
) -> Iterator[TestClient]:
    """A service whose plan is the recorded cluster's."""
    app = create_app(make_settings(tmp_path_factory.mktemp("extender")))
    with TestClient(app, raise_server_exceptions=False) as client:
        set_plan(client, cluster, plan_result)
        yield client


def node_of(result: SolveResult, application: str) -> str:
    return next(a.node for a in result.assignments if a.application == application)


# -- contract: recorded request bodies, upstream reply shapes ------------------------------------


def test_reply_keys_are_the_upstream_go_field_names_in_order(planned: TestClient) -> None:
    """ExtenderFilterResult and HostPriority replies carry exactly the keys json.Marshal writes upstream."""
    upstream_filter = list(json.loads(UPSTREAM["ExtenderFilterResult"]))
    upstream_priority = list(json.loads(UPSTREAM["HostPriority"]))
    assert upstream_filter == FILTER_KEYS
    reply = planned.post("/v1/extender/filter", json=body("filter-planned-node-names.json"))
    assert list(reply.json()) == upstream_filter
    scores = planned.post("/v1/extender/prioritize", json=body("prioritize-planned-node-names.json")).json()
    assert all(list(entry) == upstream_priority for entry in scores)


def test_planned_pod_passes_only_the_plans_node(planned: TestClient, plan_result: SolveResult) -> None:
    """nodeCacheCapable: NodeNames holds the plan's node; every other node is unresolvable, with why."""
    request = body("filter-planned-node-names.json")
    reply = planned.post("/v1/extender/filter", json=request).json()
    target = node_of(plan_result, "forklift-detect")
    assert reply["NodeNames"] == [target] and reply["Nodes"] is None and reply["Error"] == ""
    assert set(reply["FailedAndUnresolvableNodes"]) == set(request["NodeNames"]) - {target}
    assert all("forklift-detect" in m and target in m for m in reply["FailedAndUnresolvableNodes"].values())


def test_planned_pod_with_full_nodes_gets_its_node_object_back(planned: TestClient, plan_result: SolveResult) -> None:
    """Without a node cache the reply's Nodes holds the very node object that was sent."""
    request = body("filter-planned-nodes.json")
    reply = planned.post("/v1/extender/filter", json=request).json()
    target = node_of(plan_result, "anpr")
    sent = next(n for n in request["Nodes"]["items"] if n["metadata"]["name"] == target)
    assert reply["NodeNames"] is None
    assert reply["Nodes"]["items"] == [sent]


def test_planned_pod_scores_ten_on_its_node(planned: TestClient, plan_result: SolveResult) -> None:
    """Prioritize answers every candidate in order: MaxExtenderPriority (10) on the plan's node, 0 elsewhere."""
    request = body("prioritize-planned-node-names.json")
    scores = planned.post("/v1/extender/prioritize", json=request).json()
    assert [s["Host"] for s in scores] == request["NodeNames"]
    target = node_of(plan_result, "pose")
    assert {s["Host"]: s["Score"] for s in scores} == {n: (10 if n == target else 0) for n in request["NodeNames"]}


def test_unplaced_application_is_kept_out(planned: TestClient) -> None:
    """The plan found no place where gesture-ui's SLO holds: no node passes, and the reason says so."""
    reply = planned.post("/v1/extender/filter", json=body("filter-unplaced-node-names.json")).json()
    assert reply["NodeNames"] == []
    assert all("unplaced (cannot_meet_slo_alone)" in m for m in reply["FailedAndUnresolvableNodes"].values())


def test_unknown_application_fits_where_every_slo_still_holds(planned: TestClient) -> None:
    """A resnet18 pod the plan does not know passes GPU nodes only (no edgeTPU profile) and scores by slack."""
    request = body("filter-unknown-node-names.json")
    reply = planned.post("/v1/extender/filter", json=request).json()
    assert set(reply["NodeNames"]) <= {"nano1", "nano2", "xavier1"} and reply["NodeNames"]
    assert all("no_profile" in reply["FailedNodes"][n] for n in ("pi1", "pi2", "pi3"))
    scores = {
        s["Host"]: s["Score"]
        for s in planned.post("/v1/extender/prioritize", json=body("prioritize-unknown-node-names.json")).json()
    }
    assert all(scores[n] == 0 for n in ("pi1", "pi2", "pi3"))
    assert all(1 <= scores[n] <= 10 for n in reply["NodeNames"])


def test_other_pods_pass_everywhere_unchanged(planned: TestClient) -> None:
    """A pod without optplace annotations gets every node object back, and score 0."""
    request = body("filter-other-pod-nodes.json")
    reply = planned.post("/v1/extender/filter", json=request).json()
    assert reply["Nodes"]["items"] == request["Nodes"]["items"]
    assert reply["FailedNodes"] == {} and reply["FailedAndUnresolvableNodes"] == {}


def test_upstream_bodies_are_read_in_either_case(planned: TestClient) -> None:
    """The exact ExtenderArgs upstream's compatibility test marshals, and its lower-cased form, read
    the same (Go's decoder matches names case-insensitively)."""
    exact = planned.post(
        "/v1/extender/filter", content=UPSTREAM["ExtenderArgs"], headers={"content-type": "application/json"}
    )
    lower = planned.post(
        "/v1/extender/filter", content=UPSTREAM["ExtenderArgs"].lower(), headers={"content-type": "application/json"}
    )
    assert exact.status_code == lower.status_code == 200
    assert exact.json() == lower.json()
    assert exact.json()["NodeNames"] == ["node1"]


def test_malformed_bodies_are_422_problems(planned: TestClient) -> None:
    """A Pod that is not an object, or NodeNames that are not strings, are field errors."""
    for bad in ({"Pod": "x", "NodeNames": []}, {"NodeNames": [1, {}]}):
        response = planned.post("/v1/extender/filter", json=bad)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


# -- the plan: set, check, keep -------------------------------------------------------------------


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path)), raise_server_exceptions=False) as client:
        yield client


def test_without_a_plan_optplace_pods_get_an_error_others_pass(fresh: TestClient) -> None:
    """The upstream Error field says what to do; pods optplace has no say on are not held up."""
    reply = fresh.post("/v1/extender/filter", json=body("filter-planned-node-names.json")).json()
    assert "PUT /v1/extender/plan" in reply["Error"]
    other = fresh.post("/v1/extender/filter", json=body("filter-other-pod-nodes.json")).json()
    assert other["Error"] == "" and len(other["Nodes"]["items"]) == 6
    scores = fresh.post("/v1/extender/prioritize", json=body("prioritize-planned-node-names.json")).json()
    assert {s["Score"] for s in scores} == {0}
    assert fresh.get("/v1/extender/plan").status_code == 404


def test_a_plan_must_be_verified_and_belong_to_its_instance(fresh, cluster, plan_result) -> None:
    """A placement the evaluator rejects, a result for another instance, or a half request: 422."""
    crammed = [
        a.model_copy(update={"accelerator": "pi2-tpu0", "node": "pi2"})
        for a in plan_result.assignments
        if "tpu" in a.accelerator
    ]
    broken = plan_result.model_copy(update={"assignments": crammed})
    for instance, result, code in (
        (cluster, broken, "unusable_plan"),
        (cluster.model_copy(update={"name": "other"}), plan_result, "unusable_plan"),
    ):
        response = fresh.put(
            "/v1/extender/plan",
            json={"instance": instance.model_dump(mode="json"), "result": result.model_dump(mode="json")},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == code
    assert fresh.put("/v1/extender/plan", json={"instance": cluster.model_dump(mode="json")}).status_code == 422
    assert fresh.put("/v1/extender/plan", json={}).status_code == 422


def test_plan_from_a_job_and_it_survives_a_restart(tmp_path: Path, cluster: Instance) -> None:
    """PUT {job_id} takes a completed job's result; a new server on the same store answers from it."""
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.put("/v1/extender/plan", json={"job_id": "nope"}).status_code == 404
        job = client.post("/v1/jobs", json={"instance": cluster.model_dump(mode="json"), "method": "regret_greedy"})
        job_id = job.json()["id"]
        wait_for(lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] == "completed", timeout=60)
        summary = client.put("/v1/extender/plan", json={"job_id": job_id}).json()
        assert summary["source"]["job_id"] == job_id and summary["version"] == 1
        sleeping = client.post(
            "/v1/jobs",
            json={
                "instance": cluster.model_dump(mode="json"),
                "method": "test_sleep",
                "params": {"options": {"sleep_s": 30}},
            },
        ).json()["id"]
        refused = client.put("/v1/extender/plan", json={"job_id": sleeping})
        assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "job_not_completed"
        client.delete(f"/v1/jobs/{sleeping}")
    with TestClient(create_app(settings), raise_server_exceptions=False) as again:
        kept = again.get("/v1/extender/plan").json()
        assert kept["version"] == 1 and kept["placement"] == summary["placement"]
        reply = again.post("/v1/extender/filter", json=body("filter-planned-node-names.json")).json()
        assert reply["NodeNames"] == [summary["placement"]["forklift-detect"]["node"]]


def test_verbs_are_open_but_plan_changes_need_the_token(tmp_path: Path, cluster, plan_result) -> None:
    """kube-scheduler sends no credentials: filter and prioritize answer without the token; the plan does not."""
    with TestClient(create_app(make_settings(tmp_path, token="s3cret")), raise_server_exceptions=False) as client:
        assert client.post("/v1/extender/filter", json=body("filter-other-pod-nodes.json")).status_code == 200
        payload = {"instance": cluster.model_dump(mode="json"), "result": plan_result.model_dump(mode="json")}
        assert client.put("/v1/extender/plan", json=payload).status_code == 401
        assert client.get("/v1/extender/plan").status_code == 401
        authorised = client.put("/v1/extender/plan", json=payload, headers={"Authorization": "Bearer s3cret"})
        assert authorised.status_code == 200


# -- a scripted scheduling cycle ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cycle(catalog, config) -> tuple[list[dict[str, Any]], Instance, SolveResult]:
    """The recorded cluster with its optplace pods replaced by 20 pending application pods, and a plan for them."""
    pods = document("pods.json")
    others = [p for p in pods["items"] if scheme.PREFIX not in json.dumps(p["metadata"].get("annotations", {}))]
    arrivals = document("cycle-pods.json")["items"]
    assert len(arrivals) == 20
    instance = import_cluster(document("nodes.json"), {**pods, "items": others + arrivals}, catalog, config).instance
    result = solve(instance, "breadth_first", {"objectives": [Objective.MAX_HOSTED]})
    assert result.hosted == 20
    return others, instance, result


@pytest.mark.parametrize("node_cache_capable", [True, False])
def test_scripted_cycle_puts_every_pod_where_the_plan_says(tmp_path: Path, cycle, node_cache_capable: bool) -> None:
    """20 pending pods, in shuffled order, through default filters, the extender and scoring: each
    lands on its planned node, while the default scoring alone would put many elsewhere."""
    others, instance, result = cycle
    planned_node = {a.application: a.node for a in result.assignments}
    arrivals = document("cycle-pods.json")["items"]
    random.Random(14).shuffle(arrivals)
    nodes = document("nodes.json")["items"]
    bound = [p for p in others if p["spec"].get("nodeName")]
    with TestClient(create_app(make_settings(tmp_path)), raise_server_exceptions=False) as client:
        set_plan(client, instance, result)
        scheduler = ScriptedScheduler(nodes, list(bound), client, node_cache_capable=node_cache_capable, weight=5)
        landed = {p["metadata"]["annotations"][scheme.APPLICATION]: scheduler.schedule(p) for p in arrivals}
    assert landed == planned_node
    blind = ScriptedScheduler(nodes, list(bound), None, use_extender=False)
    elsewhere = sum(
        blind.schedule(p) != planned_node[p["metadata"]["annotations"][scheme.APPLICATION]] for p in arrivals
    )
    assert elsewhere >= 10


def test_plan_instances_obey_the_server_size_limits(tmp_path: Path, cluster, plan_result) -> None:
    """An instance with more applications than OPTPLACE_MAX_APPLICATIONS is refused as for a solve."""
    with TestClient(create_app(make_settings(tmp_path, max_applications=5)), raise_server_exceptions=False) as client:
        response = client.put(
            "/v1/extender/plan",
            json={"instance": cluster.model_dump(mode="json"), "result": plan_result.model_dump(mode="json")},
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "too_many_items"


def test_extender_bodies_take_the_shared_parsing_path(planned: TestClient) -> None:
    """The verbs and the plan read bodies like every route: NaN and huge numbers are 422s at their
    pointer, a body that is not JSON is a 422 json_invalid, and lower-case field names still match."""
    nan = planned.post(
        "/v1/extender/filter",
        content=b'{"pod": {"metadata": {"name": "p"}, "spec": {"priority": NaN}}, "nodenames": ["n1"]}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 422
    assert nan.json()["errors"][0] == {
        "field": "pod.spec.priority",
        "pointer": "/pod/spec/priority",
        "code": "finite_number",
        "message": "NaN is not a JSON number; give a finite number",
    }
    garbled = planned.post("/v1/extender/prioritize", content=b"\xff{", headers={"content-type": "application/json"})
    assert garbled.status_code == 422 and garbled.json()["errors"][0]["code"] == "json_invalid"
    lower = planned.post("/v1/extender/prioritize", json={"pod": {"metadata": {"name": "p"}}, "nodenames": ["a"]})
    assert lower.status_code == 200 and lower.json() == [{"Host": "a", "Score": 0}]
    huge = planned.put("/v1/extender/plan", json={"instance": {"name": "x", "nodes": 1e300}, "result": {}})
    assert huge.status_code == 422 and huge.json()["errors"][0]["pointer"] == "/instance/nodes"
