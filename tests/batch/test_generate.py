"""Instance generators: validity, reproducibility, provenance, families and knobs."""

from __future__ import annotations

import json

import pytest

from optplace import zoo
from optplace.cli import main
from optplace.evaluate import evaluate
from optplace.generate import FAMILIES, generate_instance, offered_load, split_counts
from optplace.io import load_instance
from optplace.solve import solve


@pytest.mark.parametrize("family", [f for f in FAMILIES if f not in ("scale-1000", "scale-10000")])
def test_every_family_builds_a_valid_solvable_instance(family):
    """Each family yields a valid instance that the seed first-fit can place some of."""
    instance = generate_instance(family, seed=3)
    result = solve(instance, "first_fit")
    assert result.hosted > 0
    assert instance.provenance["family"] == family
    assert instance.provenance["seed"] == 3


def test_same_inputs_give_the_same_instance():
    """Generation is deterministic in (family, sizes, seed, knobs)."""
    a = generate_instance("skewed", n_apps=40, seed=11)
    b = generate_instance("skewed", n_apps=40, seed=11)
    c = generate_instance("skewed", n_apps=40, seed=12)
    assert a.model_dump() == b.model_dump()
    assert a.applications != c.applications


def test_cluster_size_does_not_change_the_applications():
    """Changing only n_accelerators keeps the same applications (a load sweep)."""
    small = generate_instance("hetero", n_apps=30, n_accelerators=4, seed=2)
    large = generate_instance("hetero", n_apps=30, n_accelerators=12, seed=2)
    assert small.applications == large.applications
    assert len(small.accelerators()) == 4 and len(large.accelerators()) == 12
    assert offered_load(small) == pytest.approx(3 * offered_load(large))


def test_default_family_is_seed_like():
    """The default: Nano GPUs (ps) and Pi + edgeTPU (fcfs), 200/400/600 ms mean SLOs, 5-10 req/s, 20 ms + 10 ms."""
    instance = generate_instance()
    assert len(instance.applications) == 60
    disciplines = {t.name: t.discipline.value for t in instance.accelerator_types}
    assert disciplines == {"jetson-nano-gpu": "ps", "coral-edgetpu": "fcfs"}
    assert {a.slo.latency_ms for a in instance.applications} <= {200.0, 400.0, 600.0}
    assert all(5 <= a.rate_rps <= 10 and a.slo.statistic == "mean" for a in instance.applications)
    assert all(a.preprocess_ms == 20.0 for a in instance.applications)
    assert instance.settings.network_delay_ms == 10.0
    for app in instance.applications:
        assert app.slo.latency_ms == zoo.SLO_CLASS_MS[zoo.MODELS[app.model].size].value


def test_profiles_are_the_published_figures_with_provenance():
    """Seed-measured profiles are copied unchanged and every profile's origin is recorded."""
    instance = generate_instance("edgetpu", seed=0)
    profile = instance.model_map()["inception_v4"].profiles["coral-edgetpu"]
    assert (profile.service_time_ms, profile.switch_overhead_ms) == (125.13, 19.43)
    provenance = instance.provenance["profiles"]
    for model in instance.models:
        for type_name in model.profiles:
            assert f"{model.name}@{type_name}" in provenance
    assert "measured; ibis" in provenance["inception_v4@coral-edgetpu"]["service_time_ms"]
    assert "resnet50@coral-edgetpu.service_time_ms" in instance.provenance["assumed"]


def test_switch_families_scale_only_the_switch_overhead():
    """switch-heavy multiplies switch overheads by the measured USB2 ratio and leaves service times alone."""
    base = generate_instance("edgetpu", seed=4).model_map()
    heavy = generate_instance("switch-heavy", seed=4).model_map()
    for name, model in base.items():
        p, q = model.profiles["coral-edgetpu"], heavy[name].profiles["coral-edgetpu"]
        assert q.service_time_ms == p.service_time_ms
        assert q.switch_overhead_ms == pytest.approx(p.switch_overhead_ms * zoo.SWITCH_SCALE_USB2, abs=1e-3)


def test_tightness_and_percentiles():
    """Tight halves the SLO classes; the percentile family states p95/p99 SLOs."""
    tight = generate_instance("tight", seed=1)
    assert {a.slo.latency_ms for a in tight.applications} <= {100.0, 200.0, 300.0}
    pct = generate_instance("percentile", seed=1)
    assert {a.slo.statistic for a in pct.applications} == {"p95", "p99"}


def test_zipf_popularity_concentrates_models():
    """With Zipf popularity the most used model covers far more applications than under uniform."""

    def top_share(family):
        instance = generate_instance(family, n_apps=2000, seed=5)
        counts = {}
        for app in instance.applications:
            counts[app.model] = counts.get(app.model, 0) + 1
        return max(counts.values()) / 2000

    assert top_share("skewed") > 2 * top_share("hetero")


def test_mixed_and_datacenter_clusters():
    """edge-mixed has four host kinds; datacenter GPUs carry device memory and four per host."""
    mixed = generate_instance("edge-mixed", n_apps=100, seed=0)
    assert {t.name for t in mixed.accelerator_types} == {
        "jetson-nano-gpu",
        "coral-edgetpu",
        "x86-cpu",
        "jetson-agx-xavier-gpu",
    }
    dc = generate_instance("datacenter", n_apps=200, seed=0)
    dc_type = dc.accelerator_type_map()["datacenter-gpu"]
    assert dc_type.memory_mb == 16384
    assert max(len(n.accelerators) for n in dc.nodes) == 4
    assert solve(dc, "first_fit").hosted > 0


def test_large_scale_instance_is_quick_and_valid():
    """The 10,000-application family generates a valid instance with about 1,334 accelerators."""
    instance = generate_instance("scale-10000", seed=0)
    assert len(instance.applications) == 10000
    assert len(instance.accelerators()) == 1334
    assert len({a.name for a in instance.applications}) == 10000


def test_split_counts_keeps_every_kind():
    """Largest-remainder split sums to the total and keeps each host kind when it can."""
    assert split_counts(10, {"a": 0.5, "b": 0.5}) == {"a": 5, "b": 5}
    assert split_counts(3, {"a": 0.9, "b": 0.05, "c": 0.05}) == {"a": 1, "b": 1, "c": 1}
    assert sum(split_counts(101, {"a": 0.35, "b": 0.35, "c": 0.2, "d": 0.1}).values()) == 101


def test_unknown_family_or_knob_is_a_clear_error():
    """A misspelt family or knob raises ValueError naming the known ones."""
    with pytest.raises(ValueError, match="known families"):
        generate_instance("nope")
    with pytest.raises(ValueError, match="known knobs"):
        generate_instance("hetero", slo_scal=2)


def test_cli_writes_files_and_manifest(tmp_path):
    """optplace generate writes COUNT files whose manifest names family, seed, hash and command."""
    out = tmp_path / "set"
    code = main(
        [
            "generate",
            "--family",
            "tight",
            "--count",
            "3",
            "--seed",
            "7",
            "--apps",
            "12",
            "--set",
            "slo_jitter=0.1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["seed"] for e in manifest["files"]] == [7, 8, 9]
    for entry in manifest["files"]:
        instance = load_instance(out / entry["path"])
        assert len(instance.applications) == 12
        assert instance.provenance["parameters"]["slo_jitter"] == 0.1
        assert entry["family"] == "tight" and "--set slo_jitter=0.1" in entry["command"]
        regenerated = generate_instance("tight", n_apps=12, seed=entry["seed"], slo_jitter=0.1)
        assert regenerated == instance


def test_committed_generated_set_is_reproducible():
    """Every file in instances/generated equals what its manifest entry regenerates, hash included."""
    from pathlib import Path

    from optplace.generate import file_sha256

    folder = Path(__file__).resolve().parents[2] / "instances" / "generated"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {e["path"] for e in manifest["files"]} == {p.name for p in folder.glob("*.json")} - {"manifest.json"}
    for entry in manifest["files"]:
        path = folder / entry["path"]
        assert file_sha256(path) == entry["sha256"], entry["path"]
        instance = load_instance(path)
        assert instance == generate_instance(entry["family"], seed=entry["seed"], **entry["knobs"])
        assert f"--family {entry['family']}" in entry["command"]


# --- the hard cases of issue 10 ------------------------------------------------------------------


def _bare_tail(instance) -> bool:
    """No front end, no network delay, every SLO a p95 or p99."""
    return (
        instance.settings.network_delay_ms == 0
        and all(a.preprocess_ms == 0 for a in instance.applications)
        and {a.slo.statistic for a in instance.applications} <= {"p95", "p99"}
    )


@pytest.mark.parametrize("seed", range(4))
def test_fcfs_dominant_family_mixes_one_dominant_model_with_rare_ones(seed):
    """fcfs-dominant: edgeTPUs only, three models, 90% of applications (>= 84% of requests) on one model."""
    instance = generate_instance("fcfs-dominant", seed=seed)
    assert {t.discipline.value for t in instance.accelerator_types} == {"fcfs"}
    assert _bare_tail(instance)
    counts, rates = {}, {}
    for app in instance.applications:
        counts[app.model] = counts.get(app.model, 0) + 1
        rates[app.model] = rates.get(app.model, 0.0) + app.rate_rps
    assert len(counts) == 3 and max(counts.values()) == 54
    assert max(rates.values()) / sum(rates.values()) >= 0.84


def test_fcfs_dominant_placements_sit_in_the_hard_regime():
    """Placed by the seed's first-fit, some edgeTPU mixes two or three models, one >= 84%, at utilisation 0.5-0.8."""
    instance = generate_instance("fcfs-dominant", seed=1)
    evaluation = evaluate(instance, solve(instance, "first_fit").placement())
    rate = {a.name: a.rate_rps for a in instance.applications}
    model = {a.name: a.model for a in instance.applications}
    hard = []
    for acc in evaluation.accelerators:
        per_model: dict[str, float] = {}
        for name in acc.applications:
            per_model[model[name]] = per_model.get(model[name], 0.0) + rate[name]
        share = max(per_model.values(), default=0.0) / max(sum(per_model.values()), 1e-9)
        if 2 <= len(per_model) <= 3 and share >= 0.84 and 0.5 <= acc.utilization <= 0.8:
            hard.append(acc.accelerator)
    assert hard


def test_fcfs_dominant_mean_and_the_issue_recipe():
    """fcfs-dominant-mean states tight mean SLOs; edgetpu-zipf-tail is the issue's --set recipe as a family."""
    mean = generate_instance("fcfs-dominant-mean", seed=0)
    assert {a.slo.statistic for a in mean.applications} == {"mean"}
    assert max(a.slo.latency_ms for a in mean.applications) <= 100.0
    recipe = generate_instance("edgetpu-zipf-tail", seed=0)
    explicit = generate_instance(
        "edgetpu",
        seed=0,
        preprocess_ms=0,
        network_delay_ms=0,
        popularity="zipf",
        zipf_exponent=2.0,
        percentile_share=1.0,
        slo_scale=0.4,
    )
    assert recipe.applications == explicit.applications and _bare_tail(recipe)


def test_ps_scv_family_draws_service_variability_in_range():
    """ps-scv: processor-sharing GPUs only, every profile's service SCV in [0.5, 2], recorded as assumed."""
    instance = generate_instance("ps-scv", seed=2)
    assert {t.discipline.value for t in instance.accelerator_types} == {"ps"}
    assert _bare_tail(instance)
    scvs = [p.scv for m in instance.models for p in m.profiles.values()]
    assert all(0.5 <= s <= 2.0 for s in scvs) and max(scvs) - min(scvs) > 0.3
    assert any(f.endswith(".service_time_scv") for f in instance.provenance["assumed"])


def test_ps_low_load_family_runs_accelerators_nearly_idle():
    """ps-low-load: SLOs 1.1-1.5x the service time, and placed accelerators run at utilisation <= 0.1.

    (Under latency model v2 such an SLO holds only while a request overlaps another with probability
    below 1 - q, so accelerators stay under about 0.03.)
    """
    instance = generate_instance("ps-low-load", seed=0)
    assert _bare_tail(instance)
    service = {m.name: min(p.service_time_ms for p in m.profiles.values()) for m in instance.models}
    for app in instance.applications:
        assert 1.1 * service[app.model] - 0.05 <= app.slo.latency_ms <= 1.5 * service[app.model] + 0.05
    evaluation = evaluate(instance, solve(instance, "regret_greedy").placement())
    used = [a.utilization for a in evaluation.accelerators if a.applications]
    assert used and max(used) <= 0.1 and sorted(used)[len(used) // 2] >= 0.01


def test_hard_case_knobs_are_validated():
    """Bad dominant shares, model counts and SCV ranges are refused with the knob's name."""
    with pytest.raises(ValueError, match="dominant_share"):
        generate_instance("fcfs-dominant", dominant_share=1.5)
    with pytest.raises(ValueError, match="n_models"):
        generate_instance("hetero", n_models=0)
    with pytest.raises(ValueError, match="service_scv"):
        generate_instance("ps-scv", service_scv=[2.0, 0.5])
    with pytest.raises(ValueError, match="slo_service_multiple"):
        generate_instance("ps-low-load", slo_service_multiple=[0.5, 1.0])
