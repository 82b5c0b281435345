"""Kubernetes resource quantities (``resource.Quantity``): parse ``"3964656Ki"``, ``"1.5Gi"``,
``"250m"``, ``"1e3"``, and write the few forms optplace's manifests use.

The grammar is upstream's (k8s.io/apimachinery/pkg/api/resource/quantity.go)::

    <quantity>        ::= <signedNumber><suffix>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

A bare ``E`` is exa (10^18) while ``E3`` is an exponent. Values are exact decimals
(:class:`decimal.Decimal`), so ``"0.1Gi"`` does not pick up binary rounding. Memory in optplace is
``memory_mb``; a quantity of bytes becomes mebibytes (2^20 bytes), the unit ``Mi`` that
manifests are written in, so an import of an export gives back the same numbers.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|m|k|M|G|T|P|E)?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# Upstream caps quantities far below this; the bound keeps every conversion finite.
_MAX_EXPONENT = 30
MEBIBYTE = 2**20


class QuantityError(ValueError):
    """A quantity that does not follow the Kubernetes grammar, or is out of range."""


def parse_quantity(value: object) -> Decimal:
    """The exact value of a quantity given as a string (as kubectl writes them) or a JSON number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(f"expected a quantity string such as '4Gi' or '500m', got {value!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise QuantityError(f"{value!r} is not a finite quantity")
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise QuantityError(
            f"{value!r} is not a Kubernetes quantity (a number with an optional suffix: "
            "Ki Mi Gi Ti Pi Ei, m k M G T P E, or an exponent such as e3)"
        )
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regex admits only decimal numbers
        raise QuantityError(f"{value!r}: {number!r} is not a number") from None
    if suffix in _BINARY:
        return base * (Decimal(1024) ** _BINARY[suffix])
    exponent = int(suffix[1:]) if suffix[:1] in ("e", "E") and len(suffix) > 1 else _DECIMAL[suffix]
    if abs(exponent) > _MAX_EXPONENT:
        raise QuantityError(f"{value!r}: exponent {exponent} is out of range (at most ±{_MAX_EXPONENT})")
    return base.scaleb(exponent)


def bytes_to_mb(value: Decimal) -> float:
    """Bytes as optplace's ``memory_mb`` (mebibytes)."""
    return float(value / MEBIBYTE)


def memory_quantity(memory_mb: float) -> str:
    """``memory_mb`` as a request in whole mebibytes, rounded up so that a request never
    undercounts what the model accounts for (``"1130Mi"``)."""
    return f"{max(0, math.ceil(memory_mb - 1e-9))}Mi"


def cpu_quantity(cores: float) -> str:
    """CPU cores as whole millicores, rounded up (``"250m"``); at least ``"1m"``."""
    return f"{max(1, math.ceil(cores * 1000 - 1e-9))}m"
