"""The evaluator recomputes latency, load, memory and objectives, and names every violation."""

from __future__ import annotations

import pytest

from optplace.domain import Instance
from optplace.evaluate import ViolationCode, evaluate
from tests.conftest import make_instance


def _instance(**changes) -> Instance:
    return Instance.model_validate(make_instance(**changes))


def _codes(instance: Instance, placement: dict[str, str]) -> set[ViolationCode]:
    return {v.code for v in evaluate(instance, placement).violations}


def test_feasible_placement_reports_textbook_latency(instance):
    """A lone PS app has R = s / (1 - rho); a lone FCFS app is M/D/1."""
    result = evaluate(instance, {"cam1": "gpu1", "cam2": "tpu1"})
    assert result.feasible and not result.violations
    by_app = {a.application: a for a in result.applications}
    rho = 10 * 29.4 / 1000
    assert by_app["cam1"].latency_ms == pytest.approx(29.4 / (1 - rho))
    rho2 = 8 * 4.91 / 1000
    assert by_app["cam2"].latency_ms == pytest.approx(4.91 * (2 - rho2) / (2 * (1 - rho2)))
    assert result.objectives["max_hosted"] == 2 and result.objectives["min_accelerators"] == 2


def test_network_and_frontend_add_to_latency():
    """End to end = front-end PS stage + network + accelerator."""
    doc = make_instance(settings={"network_delay_ms": 10})
    doc["applications"][0]["preprocess_ms"] = 20
    result = evaluate(Instance.model_validate(doc), {"cam1": "gpu1"})
    app = result.applications[0]
    assert app.frontend_latency_ms == pytest.approx(20 / (1 - 10 * 20 / 1000))
    assert app.latency_ms == pytest.approx(app.frontend_latency_ms + 10 + app.accelerator_latency_ms)


def test_unplaced_applications_have_no_latency(instance):
    """An application left out has no latency and no verdict."""
    result = evaluate(instance, {})
    assert result.feasible
    assert all(a.accelerator is None and a.meets_slo is None for a in result.applications)
    assert result.objectives["hosted"] == 0


def test_shared_backend_counts_memory_once():
    """Two apps of one shareable model on a device load one backend."""
    doc = make_instance()
    doc["applications"].append({"name": "cam3", "model": "resnet50", "rate_rps": 1, "slo": {"latency_ms": 500}})
    result = evaluate(Instance.model_validate(doc), {"cam1": "gpu1", "cam3": "gpu1"})
    gpu = next(a for a in result.accelerators if a.accelerator == "gpu1")
    assert gpu.backends == ["resnet50"]
    node = next(n for n in result.nodes if n.node == "nano")
    assert node.memory_used_mb == pytest.approx(965)


def test_slo_violation_code():
    """An app whose predicted latency exceeds its SLO gets slo_violated."""
    doc = make_instance()
    doc["applications"][0]["slo"]["latency_ms"] = 40
    assert _codes(Instance.model_validate(doc), {"cam1": "gpu1"}) == {ViolationCode.SLO_VIOLATED}


def test_no_profile_code(instance):
    """Placing a model on a type it has no profile for is no_profile."""
    assert ViolationCode.NO_PROFILE in _codes(instance, {"cam1": "tpu1"})


def test_type_and_label_codes():
    """allowed_accelerator_types and required_labels are enforced."""
    doc = make_instance()
    doc["applications"][1]["allowed_accelerator_types"] = ["tpu"]
    doc["applications"][0]["required_labels"] = {"zone": "a"}
    codes = _codes(Instance.model_validate(doc), {"cam2": "gpu1", "cam1": "gpu1"})
    assert {ViolationCode.TYPE_NOT_ALLOWED, ViolationCode.LABELS_NOT_MATCHED} <= codes


def test_utilization_cap_and_unstable_codes():
    """Load above the cap is utilization_cap_exceeded; at or above 1 it is unstable."""
    doc = make_instance()
    doc["applications"][0]["rate_rps"] = 30  # rho = 0.882
    doc["applications"][0]["slo"]["latency_ms"] = 10_000
    assert ViolationCode.UTILIZATION_CAP_EXCEEDED in _codes(Instance.model_validate(doc), {"cam1": "gpu1"})
    doc["applications"][0]["rate_rps"] = 40  # rho = 1.176
    result = evaluate(Instance.model_validate(doc), {"cam1": "gpu1"})
    assert ViolationCode.UNSTABLE in {v.code for v in result.violations}
    assert result.applications[0].latency_ms is None  # infinite latency is reported as unknown, never as a number


def test_memory_codes():
    """Node memory (with the 80% cap) and device memory are both checked."""
    doc = make_instance()
    doc["nodes"][0]["memory_mb"] = 1000  # 800 usable < 965
    assert ViolationCode.NODE_MEMORY_EXCEEDED in _codes(Instance.model_validate(doc), {"cam1": "gpu1"})
    doc = make_instance()
    doc["accelerator_types"][0]["memory_mb"] = 1000
    result = evaluate(Instance.model_validate(doc), {"cam1": "gpu1", "cam2": "gpu1"})
    assert ViolationCode.ACCELERATOR_MEMORY_EXCEEDED in {v.code for v in result.violations}
    node = next(n for n in result.nodes if n.node == "nano")
    assert node.memory_used_mb == 0  # backends live on the device when the type has its own memory


def test_dedicated_pinned_frontend_and_host_all_codes():
    """Dedicated devices take one backend; pinned apps stay; front ends must be stable; host_all hosts all."""
    doc = make_instance(host_all=True)
    doc["accelerator_types"][0]["discipline"] = "dedicated"
    doc["applications"][1]["current_accelerator"] = "tpu1"
    doc["applications"][1]["pinned"] = True
    doc["applications"][0]["preprocess_ms"] = 150  # 10 req/s * 150 ms = 1.5 cores on a 1-core node
    codes = _codes(Instance.model_validate(doc), {"cam1": "gpu1", "cam2": "gpu1"})
    assert {ViolationCode.DEDICATED_SHARED, ViolationCode.PINNED_MOVED, ViolationCode.FRONTEND_UNSTABLE} <= codes
    assert ViolationCode.NOT_HOSTED in _codes(Instance.model_validate(doc), {"cam2": "tpu1"})


def test_unknown_names_are_misuse(instance):
    """A placement naming an unknown application or accelerator raises instead of reporting."""
    with pytest.raises(ValueError, match="unknown applications"):
        evaluate(instance, {"ghost": "gpu1"})
    with pytest.raises(ValueError, match="unknown accelerators"):
        evaluate(instance, {"cam1": "gpu9"})


def test_objective_values_cover_cost_value_and_migrations():
    """min_cost adds fixed and per-app costs; max_value uses per-accelerator values; moves are counted."""
    doc = make_instance()
    doc["accelerator_types"][0]["cost"] = 2.5
    doc["applications"][0].update(
        cost_by_accelerator={"gpu1": 4}, value_by_accelerator={"gpu1": 7}, current_accelerator="gpu1"
    )
    doc["applications"][1]["current_accelerator"] = "gpu1"
    values = evaluate(Instance.model_validate(doc), {"cam1": "gpu1", "cam2": "tpu1"}).objectives
    assert values["min_cost"] == pytest.approx(2.5 + 1 + 4)
    assert values["max_value"] == pytest.approx(7 + 1)
    assert values["min_migrations"] == 1


def test_percentile_slo_is_checked_on_the_percentile():
    """A p99 SLO is compared with the predicted p99, which exceeds the mean."""
    doc = make_instance()
    doc["applications"][0]["slo"] = {"latency_ms": 150, "statistic": "p99"}
    p99 = evaluate(Instance.model_validate(doc), {"cam1": "gpu1"}).applications[0].latency_ms
    mean = evaluate(Instance.model_validate(make_instance()), {"cam1": "gpu1"}).applications[0].latency_ms
    assert p99 > mean


# --- domain extensions: co-compilation, max_backends, synchronous front ends, switch variants ---------------


def _tiny(name: str) -> Instance:
    from tests.conftest import INSTANCES, load

    return load(INSTANCES / "tiny" / f"{name}.json")


def test_a_cocompiled_device_pays_the_groups_overheads():
    """a1 + b1 co-compiled (2 ms per switch): E[S'] = 11 ms, rho = 0.22, E[S'^2] = 122 ms^2, symmetric classes:
    W = 0.02 x 122 / (2 x 0.78) = 1.564 ms, R = 12.564 ms; compiled apart (20 ms) R = 28.33 ms > 25 ms."""
    instance = _tiny("cocompile")
    result = evaluate(instance, {"a1": "tpu1", "b1": "tpu1"})
    assert result.feasible
    tpu = next(a for a in result.accelerators if a.accelerator == "tpu1")
    assert tpu.cocompilation_group == "ab"
    assert tpu.utilization == pytest.approx(0.22)
    latency = {a.application: a.latency_ms for a in result.applications if a.accelerator}
    assert latency["a1"] == pytest.approx(11 + 0.02 * 122 / (2 * 0.78))
    apart = evaluate(instance.model_copy(update={"cocompilation_groups": []}), {"a1": "tpu1", "b1": "tpu1"})
    assert {v.code for v in apart.violations} == {ViolationCode.SLO_VIOLATED}
    assert apart.applications[1].latency_ms == pytest.approx(28.3333333)


def test_a_model_outside_the_group_or_a_repeated_model_compiles_apart():
    """C is no member, and two backends of one unshareable model cannot share one binary: profiles' overheads."""
    instance = _tiny("cocompile")
    result = evaluate(instance, {"a1": "tpu1", "b1": "tpu1", "c1": "tpu1"})
    assert next(a for a in result.accelerators if a.accelerator == "tpu1").cocompilation_group is None
    doc = instance.model_dump(mode="json")
    doc["models"][0]["shareable"] = False  # A: a1 and a new a2 run two A backends
    doc["applications"].append({"name": "a2", "model": "A", "rate_rps": 1, "slo": {"latency_ms": 500}})
    doubled = Instance.model_validate(doc)
    result = evaluate(doubled, {"a1": "tpu1", "a2": "tpu1", "b1": "tpu1"})
    assert next(a for a in result.accelerators if a.accelerator == "tpu1").cocompilation_group is None


def test_the_first_group_under_which_the_device_works_is_chosen():
    """Groups are tried in declaration order: one that misses the SLO is passed over, one that works is kept."""
    doc = _tiny("cocompile").model_dump(mode="json")
    slow = {"name": "slow", "accelerator_type": "tpu", "switch_overhead_ms": {"A": 19, "B": 19, "C": 19}}
    doc["cocompilation_groups"] = [slow, *doc["cocompilation_groups"]]
    result = evaluate(Instance.model_validate(doc), {"a1": "tpu1", "b1": "tpu1"})
    assert result.feasible and result.accelerators[0].cocompilation_group == "ab"
    doc["cocompilation_groups"][0]["switch_overhead_ms"] = {"A": 1, "B": 1, "C": 1}
    result = evaluate(Instance.model_validate(doc), {"a1": "tpu1", "b1": "tpu1"})
    assert result.feasible and result.accelerators[0].cocompilation_group == "slow"  # works, and comes first


def test_max_backends_counts_backends_not_applications():
    """Two backends on a GPU with max_backends 2 are fine (a and b share m1); a third is a violation."""
    instance = _tiny("max_backends")
    assert evaluate(instance, {"a": "gpu1", "b": "gpu1", "c": "gpu1"}).feasible
    result = evaluate(instance, {"a": "gpu1", "c": "gpu1", "d": "gpu1"})
    assert {v.code for v in result.violations} == {ViolationCode.MAX_BACKENDS_EXCEEDED}
    assert result.accelerators[0].max_backends == 2
    assert "at most 2" in result.violations[0].message


def test_a_synchronous_front_end_bounds_the_mean_in_flight():
    """a alone on the GPU: R = 30 / (1 - 0.36) + 10 = 56.875 ms, 12 x 56.875 / 1000 = 0.6825 in flight <= 0.8;
    with c beside it (rho 0.66): R = 98.24 ms, 1.179 in flight > 0.8 although the 200 ms SLO holds."""
    instance = _tiny("frontend_occupancy")
    alone = evaluate(instance, {"a": "gpu1"})
    assert alone.feasible
    assert alone.applications[0].frontend_occupancy == pytest.approx(12 * (30 / 0.64 + 10) / 1000)
    assert alone.applications[0].frontend_occupancy_limit == pytest.approx(0.8)
    crowded = evaluate(instance, {"a": "gpu1", "c": "gpu1"})
    assert {(v.code, v.application) for v in crowded.violations} == {(ViolationCode.FRONTEND_OCCUPANCY_EXCEEDED, "a")}
    assert crowded.applications[0].meets_slo


def test_the_occupancy_of_a_percentile_application_uses_its_mean():
    """b (p95 SLO 400 ms) on the edgeTPU beside d: its p95 meets 400 ms but its mean exceeds 66.7 ms."""
    instance = _tiny("frontend_occupancy")
    result = evaluate(instance, {"b": "tpu1", "c": "tpu1"})
    by_app = {a.application: a for a in result.applications}
    assert by_app["b"].meets_slo
    assert by_app["b"].frontend_occupancy > 0.8
    assert ViolationCode.FRONTEND_OCCUPANCY_EXCEEDED in {v.code for v in result.violations}


def test_switch_variance_is_honoured():
    """The seed's second moment E[S']^2 = 400: W = 6.67 ms, R = 26.67 ms; the exact queue gives 28.33 ms."""
    instance = _tiny("switch_variance_seed")
    result = evaluate(instance, {"a1": "tpu1", "b1": "tpu1"})
    assert result.feasible and result.applications[0].latency_ms == pytest.approx(20 + 0.02 * 400 / 1.2)
    exact = instance.model_copy(
        update={"settings": instance.settings.model_copy(update={"switch_variance": "dependent"})}
    )
    assert evaluate(exact, {"a1": "tpu1", "b1": "tpu1"}).applications[0].latency_ms == pytest.approx(28.3333333)


def test_an_idle_copy_counts_against_max_backends():
    """An idle copy (a make-before-break move) is a backend process: a third backend breaks max_backends 2."""
    instance = _tiny("max_backends")
    assert evaluate(instance, {"a": "gpu1", "c": "gpu1"}, reserved={"b": "gpu1"}).feasible  # b shares a's m1
    result = evaluate(instance, {"a": "gpu1", "c": "gpu1"}, reserved={"d": "gpu1"})
    assert {v.code for v in result.violations} == {ViolationCode.MAX_BACKENDS_EXCEEDED}
    assert len(result.accelerators[0].backends) == 3
