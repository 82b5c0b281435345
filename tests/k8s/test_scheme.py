"""The optplace.io/ annotation scheme: pods to applications and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optplace.domain import SLO, Application
from optplace.k8s import scheme

BASE = {scheme.MODEL: "resnet50", scheme.RATE_RPS: "6", scheme.SLO_MS: "250"}


def test_minimal_annotations_make_an_application_named_after_the_pod() -> None:
    """Model, rate and SLO suffice; the name defaults to the pod's, the statistic to the mean."""
    app = scheme.application_from_annotations(BASE, "cam-7f9c", {"zone": "a"})
    assert (app.name, app.model, app.rate_rps, app.slo.latency_ms, app.slo.statistic) == (
        "cam-7f9c",
        "resnet50",
        6.0,
        250.0,
        "mean",
    )
    assert app.required_labels == {"zone": "a"}


def test_every_annotation_maps_to_its_field() -> None:
    """The full scheme: name, statistic, priority, pre-processing, memory, allowed types, pinned."""
    app = scheme.application_from_annotations(
        {
            **BASE,
            scheme.APPLICATION: "parking",
            scheme.SLO_STATISTIC: "p99",
            scheme.PRIORITY: "2.5",
            scheme.PREPROCESS_MS: "20",
            scheme.FRONTEND_MEMORY_MB: "100",
            scheme.ALLOWED_ACCELERATOR_TYPES: "gpu, tpu",
            scheme.PINNED: "True",
        },
        "pod",
    )
    assert app.name == "parking" and app.slo.statistic == "p99" and app.priority == 2.5
    assert (app.preprocess_ms, app.frontend_memory_mb) == (20.0, 100.0)
    assert app.allowed_accelerator_types == ["gpu", "tpu"] and app.pinned


def test_missing_and_malformed_annotations_are_all_named() -> None:
    """Every problem names its annotation and what is wrong, at once."""
    with pytest.raises(scheme.AnnotationError) as caught:
        scheme.application_from_annotations(
            {scheme.MODEL: "resnet50", scheme.RATE_RPS: "fast", scheme.PINNED: "yes", scheme.PRIORITY: "nan"}, "p"
        )
    fields = [field for field, _ in caught.value.problems]
    assert "metadata.annotations['optplace.io/slo-ms']" in fields
    assert "metadata.annotations['optplace.io/rate-rps']" in fields
    assert "metadata.annotations['optplace.io/pinned']" in fields
    assert "metadata.annotations['optplace.io/priority']" in fields


def test_domain_violations_point_at_the_annotation() -> None:
    """A negative rate or an unknown statistic is reported against its annotation."""
    with pytest.raises(scheme.AnnotationError) as caught:
        scheme.application_from_annotations({**BASE, scheme.RATE_RPS: "-1", scheme.SLO_STATISTIC: "p100"}, "p")
    fields = {field for field, _ in caught.value.problems}
    assert fields == {
        "metadata.annotations['optplace.io/rate-rps']",
        "metadata.annotations['optplace.io/slo-statistic']",
    }


def test_backend_pods_are_not_applications() -> None:
    """The export's backend pods carry a model list but are not applications."""
    assert scheme.is_application(BASE)
    assert not scheme.is_application({**BASE, scheme.ROLE: scheme.ROLE_BACKEND})
    assert scheme.is_backend({scheme.ROLE: scheme.ROLE_BACKEND})
    assert not scheme.is_application({"app": "nginx"})


names = st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(
    name=names,
    model=names,
    rate=positive,
    slo=positive,
    statistic=st.sampled_from(["mean", "p50", "p95", "p99", "p99.9"]),
    priority=positive,
    preprocess=st.floats(min_value=0, max_value=1e3),
    memory=st.floats(min_value=0, max_value=1e5),
    allowed=st.none() | st.lists(names, min_size=1, max_size=3),
    labels=st.dictionaries(names, names, max_size=2),
)
def test_annotations_round_trip(
    name, model, rate, slo, statistic, priority, preprocess, memory, allowed, labels
) -> None:
    """Writing an application's annotations and reading them back gives the same application."""
    app = Application(
        name=name,
        model=model,
        rate_rps=rate,
        slo=SLO(latency_ms=slo, statistic=statistic),
        priority=priority,
        preprocess_ms=preprocess,
        frontend_memory_mb=memory,
        allowed_accelerator_types=allowed,
        required_labels=labels,
    )
    back = scheme.application_from_annotations(scheme.application_annotations(app), "ignored", labels)
    assert back == app
