"""Switch overheads derived from Google's Coral reference runs."""

from __future__ import annotations

import pytest

from optplace import zoo
from optplace.calibration import coral


def test_per_switch_overheads_match_the_references_readme():
    """(pair - isolated) / 2 reproduces the figures the data README derives by hand."""
    got = {(e.host, e.pair): e for e in coral.switch_overheads()}
    expected = {
        ("x86_64", "mobilenet_v1+v2"): 9.1,
        ("aarch64", "mobilenet_v1+v2"): 10.7,
        ("rp4b", "mobilenet_v1+v2"): 15.2,
        ("x86_64", "inception_v1+v4"): 14.2,
        ("aarch64", "inception_v1+v4"): 16.7,
        ("rp4b", "inception_v1+v4"): 23.1,
    }
    for key, value in expected.items():
        assert got[key].alternating_switch_ms == pytest.approx(value, abs=0.05)
    usb3_cocompiled = [e.cocompiled_switch_ms for e in got.values() if e.host_class == "usb3"]
    assert min(usb3_cocompiled) == pytest.approx(1.45, abs=0.01) and max(usb3_cocompiled) == pytest.approx(
        10.56, abs=0.01
    )
    assert all(0 < e.cocompiled_ratio < 1 for e in got.values())  # co-compilation always helps


def test_zoo_figures_are_the_derived_ones():
    """optplace.zoo carries exactly the overheads the shipped references give (no drift)."""
    for entry in coral.switch_overheads():
        figures = zoo.CORAL_SWITCH_MS[entry.host][entry.pair]
        assert figures["alternating"].value == pytest.approx(entry.alternating_switch_ms, abs=0.006)
        assert figures["cocompiled"].value == pytest.approx(entry.cocompiled_switch_ms, abs=0.006)
        assert not figures["alternating"].assumed
    assert zoo._PI4_SWITCH_SMALL.value == pytest.approx(coral.switch_overhead("rp4b", "mobilenet_v1+v2"), abs=0.05)
    assert zoo._PI4_SWITCH_LARGE.value == pytest.approx(
        coral.switch_overhead("rp4b", "inception_v1+v4"), abs=0.05
    )  # rounded to 0.1


def test_host_pair_fit_and_seed_range():
    """The host x pair fit stays within the replicate spread and puts the Pi 4 inside the seed's 10-25 ms."""
    entries = coral.switch_overheads()
    fit = coral.fit_host_pair_model(entries)
    assert fit.host_factor["rp4b"] == pytest.approx(1.0)
    assert fit.host_factor["x86_64"] < 1 < fit.host_factor["rp3b"]  # USB 2.0 hosts switch ~9x slower
    assert fit.max_residual_percent() <= max(coral.replicate_spread_percent(entries).values())
    assert all(10.0 <= v <= 25.0 for v in fit.pair_ms_on_rp4b.values())


def test_unknown_host_or_pair_is_a_key_error():
    """Asking for a host or pair the references do not have says which exist."""
    with pytest.raises(KeyError, match="hosts"):
        coral.switch_overhead("jetson", "mobilenet_v1+v2")
