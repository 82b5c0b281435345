"""The evaluator's idle copies (``reserved``): memory without traffic, as during a move."""

from __future__ import annotations

import pytest

from optplace.domain import Instance
from optplace.evaluate import ViolationCode, evaluate
from tests.conftest import make_instance


def cluster(**overrides) -> Instance:
    doc = make_instance(**overrides)
    doc["applications"] = [
        {"name": "cam1", "model": "resnet50", "rate_rps": 10, "slo": {"latency_ms": 150}, "frontend_memory_mb": 50},
        {"name": "cam2", "model": "mobilenet_v2", "rate_rps": 8, "slo": {"latency_ms": 100}, "frontend_memory_mb": 70},
        {"name": "cam3", "model": "mobilenet_v2", "rate_rps": 5, "slo": {"latency_ms": 100}, "frontend_memory_mb": 30},
    ]
    return Instance.model_validate(doc)


def node_memory(evaluation, node: str) -> float:
    return next(n.memory_used_mb for n in evaluation.nodes if n.node == node)


def test_an_idle_copy_holds_memory_but_no_load():
    """A copy of cam2 on gpu1 adds its backend and front end to the node, nothing to utilisation."""
    instance = cluster()
    placement = {"cam1": "gpu1", "cam2": "tpu1"}
    plain = evaluate(instance, placement)
    copied = evaluate(instance, placement, reserved={"cam2": "gpu1"})
    assert node_memory(copied, "nano") == node_memory(plain, "nano") + 1130 + 70
    gpu = {a.accelerator: a for a in copied.accelerators}["gpu1"]
    assert gpu.utilization == pytest.approx(0.294) and gpu.backends == ["resnet50", "mobilenet_v2"]
    assert copied.applications == plain.applications


def test_a_copy_of_a_running_shared_model_costs_only_its_front_end():
    """cam3's copy joins the mobilenet_v2 backend already on tpu1: only its front end counts."""
    instance = cluster()
    plain = evaluate(instance, {"cam2": "tpu1"})
    copied = evaluate(instance, {"cam2": "tpu1"}, reserved={"cam3": "tpu1"})
    assert node_memory(copied, "pi") == node_memory(plain, "pi") + 30
    alone = evaluate(instance, {}, reserved={"cam3": "tpu1"})
    assert node_memory(alone, "pi") == 100 + 30 and not alone.violations


def test_a_copy_can_overflow_memory_and_share_a_dedicated_device():
    """Copies count against memory limits and against the one-backend rule of dedicated devices."""
    doc = make_instance()
    doc["nodes"][0]["memory_mb"] = 2000  # 1,600 MB usable: resnet50 (965) fits, a mobilenet_v2 copy does not
    tight = cluster(nodes=doc["nodes"])
    codes = [v.code for v in evaluate(tight, {"cam1": "gpu1"}, reserved={"cam2": "gpu1"}).violations]
    assert codes == [ViolationCode.NODE_MEMORY_EXCEEDED]
    dedicated = cluster(
        accelerator_types=[{"name": "gpu", "discipline": "dedicated"}, {"name": "tpu", "discipline": "fcfs"}]
    )
    codes = [v.code for v in evaluate(dedicated, {"cam1": "gpu1"}, reserved={"cam2": "gpu1"}).violations]
    assert codes == [ViolationCode.DEDICATED_SHARED]


def test_device_memory_types_count_the_copy_on_the_device():
    """With device memory the copy's backend counts there, its front end on the node."""
    doc = make_instance(
        accelerator_types=[
            {"name": "gpu", "discipline": "ps", "memory_mb": 2500},
            {"name": "tpu", "discipline": "fcfs"},
        ]
    )
    instance = cluster(accelerator_types=doc["accelerator_types"])
    copied = evaluate(instance, {"cam1": "gpu1"}, reserved={"cam2": "gpu1"})
    gpu = {a.accelerator: a for a in copied.accelerators}["gpu1"]
    assert gpu.memory_used_mb == 965 + 1130 and node_memory(copied, "nano") == 50 + 70
    assert [v.code for v in copied.violations] == [ViolationCode.ACCELERATOR_MEMORY_EXCEEDED]


def test_a_copy_must_name_known_things_with_a_profile():
    """Unknown names, or a copy where the model has no profile, are misuse (ValueError)."""
    instance = cluster()
    for reserved in ({"ghost": "gpu1"}, {"cam1": "nowhere"}, {"cam1": "tpu1"}):
        with pytest.raises(ValueError):
            evaluate(instance, {}, reserved=reserved)
