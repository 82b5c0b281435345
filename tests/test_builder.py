"""InstanceBuilder: the same instances as the JSON files, errors on the line that caused them, then solve."""

from __future__ import annotations

import pytest

import optplace
from optplace import InstanceBuilder
from optplace.domain import Instance
from optplace.exceptions import InstanceError
from tests.conftest import SEED, load, make_instance


def fixture_builder() -> InstanceBuilder:
    """tests/conftest.py's make_instance(), written with the builder."""
    b = InstanceBuilder(name="fixture")
    gpu = b.add_accelerator_type("gpu", discipline="ps")
    tpu = b.add_accelerator_type("tpu", discipline="fcfs")
    b.add_accelerator(b.add_node("nano", memory_mb=4096), gpu, name="gpu1")
    b.add_accelerator(b.add_node("pi", memory_mb=4096, labels={"zone": "a"}), tpu, name="tpu1")
    resnet = b.add_model("resnet50", profiles={gpu: {"service_time_ms": 29.4, "memory_mb": 965}})
    mobilenet = b.add_model("mobilenet_v2")
    b.add_profile(mobilenet, gpu, service_time_ms=13.0, memory_mb=1130)
    b.add_profile(mobilenet, tpu, service_time_ms=4.91, switch_overhead_ms=10.43, memory_mb=100)
    b.add_application("cam1", resnet, rate_rps=10, slo_ms=150)
    b.add_application("cam2", "mobilenet_v2", rate_rps=8, slo_ms=100)
    return b


def test_builds_the_same_instance_as_the_document() -> None:
    """Handles or names, the built instance equals the one validated from the equivalent JSON document."""
    assert fixture_builder().instance() == Instance.model_validate(make_instance())


def test_from_instance_round_trips_a_seed_workload() -> None:
    """from_instance(x).instance() == x for the seed's heterogeneous workload, and it can be extended."""
    seed = load(SEED[0])
    builder = InstanceBuilder.from_instance(seed)
    assert builder.instance() == seed
    model = builder.models[0]
    builder.add_application("extra", model, rate_rps=1, slo_ms=1000)
    assert len(builder.instance().applications) == len(seed.applications) + 1


def test_bad_number_fails_on_its_line_with_its_pointer() -> None:
    """A negative rate is refused by add_application, naming /applications/<index>/rate_rps."""
    b = fixture_builder()
    with pytest.raises(InstanceError) as caught:
        b.add_application("cam3", "resnet50", rate_rps=-1, slo_ms=100)
    assert [e["pointer"] for e in caught.value.errors] == ["/applications/2/rate_rps"]


def test_unknown_name_suggests_the_close_one() -> None:
    """A misspelt model name fails at once with a did-you-mean and the pointer of the field."""
    with pytest.raises(InstanceError, match="did you mean 'resnet50'") as caught:
        fixture_builder().add_application("cam3", "resnet5O", rate_rps=1, slo_ms=100)
    assert caught.value.errors[0]["pointer"] == "/applications/2/model"


def test_duplicate_names_and_foreign_handles_are_refused() -> None:
    """A name added twice, or a handle from another builder, is an error rather than a silent collision."""
    b = fixture_builder()
    with pytest.raises(InstanceError, match="already"):
        b.add_node("nano", memory_mb=1)
    other = InstanceBuilder()
    foreign = other.add_accelerator_type("gpu", discipline="ps")
    with pytest.raises(ValueError, match="does not belong to this builder"):
        b.add_accelerator(b.nodes[0], foreign)


def test_default_accelerator_names_are_numbered() -> None:
    """Accelerators without a name get '<node>-<type>', then '<node>-<type>2', ..."""
    b = InstanceBuilder()
    gpu = b.add_accelerator_type("gpu", discipline="ps")
    node = b.add_node("n", memory_mb=1000)
    assert [b.add_accelerator(node, gpu).name for _ in range(3)] == ["n-gpu", "n-gpu2", "n-gpu3"]


def test_cross_field_problems_surface_in_instance() -> None:
    """What only the whole instance can tell (a node without accelerators) is reported by instance()."""
    b = fixture_builder()
    b.add_node("empty", memory_mb=100)
    with pytest.raises(InstanceError) as caught:
        b.instance()
    assert caught.value.errors[0]["pointer"] == "/nodes/2/accelerators"


def test_solve_takes_params_as_keywords() -> None:
    """builder.solve(method, time_limit_s=...) solves the built instance with those parameters."""
    result = fixture_builder().solve("first_fit", seed=3)
    assert result.status.has_solution and result.hosted == 2 and result.seed == 3
    assert result.input_hash == optplace.solve(fixture_builder().instance(), "first_fit").input_hash


def test_objectives_are_checked_with_a_suggestion() -> None:
    """set_objectives refuses an unknown objective and suggests the close one."""
    with pytest.raises(InstanceError, match="did you mean 'min_accelerators'"):
        InstanceBuilder(objectives=["max_hosted", "min_accelerator"])


def test_the_extensions_build_and_round_trip() -> None:
    """max_backends, parameter sizes, synchronous front ends, settings and co-compilation groups survive
    add_* and from_instance; a bad group member fails on its line with its pointer."""
    from tests.conftest import INSTANCES

    b = InstanceBuilder(name="ext", switch_variance="seed", frontend_occupancy_cap=0.5)
    tpu = b.add_accelerator_type("tpu", discipline="fcfs", parameter_cache_mb=8, max_backends=3)
    b.add_accelerator(b.add_node("pi", memory_mb=4000), tpu, name="tpu1", max_backends=2)
    a = b.add_model("A", profiles={tpu: {"service_time_ms": 10, "switch_overhead_ms": 20, "parameter_mb": 4}})
    b.add_model("B", profiles={tpu: {"service_time_ms": 10, "switch_overhead_ms": 20, "parameter_mb": 3}})
    b.add_application("a1", a, rate_rps=10, slo_ms=25, frontend_concurrency=2)
    b.add_cocompilation_group("ab", tpu, {a: 2, "B": 2})
    built = b.instance()
    assert built.settings.switch_variance == "seed" and built.settings.frontend_occupancy_cap == 0.5
    assert built.max_backends(built.nodes[0].accelerators[0]) == 2
    assert built.applications[0].frontend_concurrency == 2
    assert built.cocompilation_groups[0].switch_overhead_ms == {"A": 2, "B": 2}
    assert InstanceBuilder.from_instance(built).instance() == built
    cocompile = load(INSTANCES / "tiny" / "cocompile.json")
    assert InstanceBuilder.from_instance(cocompile).instance() == cocompile
    with pytest.raises(InstanceError) as caught:
        b.add_cocompilation_group("ac", tpu, {a: 1, "C": 1})
    assert caught.value.errors[0]["pointer"] == "/cocompilation_groups/1/switch_overhead_ms"
