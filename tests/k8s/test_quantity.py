"""Kubernetes resource quantities, against upstream's grammar and examples."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optplace.k8s.quantity import (
    QuantityError,
    bytes_to_mb,
    cpu_quantity,
    memory_quantity,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3964656Ki", Decimal(3964656 * 1024)),
        ("128974848", Decimal(128974848)),
        ("129e6", Decimal(129_000_000)),
        ("129M", Decimal(129_000_000)),
        ("123Mi", Decimal(123 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("0.1Gi", Decimal("107374182.4")),
        ("250m", Decimal("0.25")),
        ("1k", Decimal(1000)),
        ("2E", Decimal(2 * 10**18)),
        ("2E3", Decimal(2000)),
        ("1e-3", Decimal("0.001")),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("+4", Decimal(4)),
        ("4", Decimal(4)),
        (4, Decimal(4)),
        (0.5, Decimal("0.5")),
    ],
)
def test_parse_quantity_follows_upstream_grammar(text: object, value: Decimal) -> None:
    """Binary and decimal suffixes, exponents, bare E (exa) vs E3 (exponent), JSON numbers."""
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "1.5 Gi", "1GB", "1gi", "1e", "0x10", "1..2", "1e999", True, None, [1]])
def test_parse_quantity_rejects_what_upstream_rejects(text: object) -> None:
    """Unknown suffixes, spaces, lone suffixes, absurd exponents and non-strings are errors with a hint."""
    with pytest.raises(QuantityError, match=r"quantity|exponent"):
        parse_quantity(text)


def test_memory_quantity_rounds_up_to_whole_mebibytes() -> None:
    """A request never undercounts what the model accounts for."""
    assert memory_quantity(1130) == "1130Mi"
    assert memory_quantity(1130.2) == "1131Mi"
    assert memory_quantity(0) == "0Mi"


def test_cpu_quantity_is_whole_millicores_rounded_up() -> None:
    """rate x preprocess time in ms/s is millicores; at least 1m."""
    assert cpu_quantity(0.16) == "160m"
    assert cpu_quantity(0.1601) == "161m"
    assert cpu_quantity(0.0) == "1m"


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False))
def test_memory_quantity_reads_back_at_least_the_value(memory_mb: float) -> None:
    """Export then import of a memory figure never loses memory."""
    assert bytes_to_mb(parse_quantity(memory_quantity(memory_mb))) >= memory_mb - 1e-6
