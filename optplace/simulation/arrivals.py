"""Arrival processes for the simulator: Poisson, gamma renewal, and replay of a recorded trace.

Every generator returns sorted arrival times in milliseconds over ``[0, horizon_ms)`` for one
application with mean rate ``rate_rps``:

* ``poisson`` — exponential interarrival times (what every analytic model assumes);
* ``gamma`` — a renewal process with gamma interarrival times of squared coefficient of
  variation ``scv`` (``scv < 1`` smoother than Poisson, ``scv > 1`` burstier; ``scv = 1`` is
  Poisson);
* ``trace`` — the interarrival gaps of a recorded timestamp trace (for example the Azure LLM
  inference trace, see ``optplace/data/azure/README.md``), rescaled so that their mean gives the
  application's rate, replayed cyclically from a random position so that applications sharing
  a trace are not synchronised. Bursts, lulls and their correlation are kept; only the time
  scale changes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

ARRIVAL_KINDS = ("poisson", "gamma", "trace")

_DEFAULT_TRACE = Path(__file__).resolve().parent.parent / "data" / "azure" / "AzureLLMInferenceTrace_code.csv"


@dataclass(frozen=True)
class ArrivalProcess:
    """Which arrival process every application follows (each with its own rate and stream)."""

    kind: str = "poisson"
    scv: float = 1.0  # interarrival SCV, for kind == "gamma"
    gaps_s: FloatArray | None = field(default=None, repr=False)  # interarrival gaps, for "trace"

    def __post_init__(self) -> None:
        if self.kind not in ARRIVAL_KINDS:
            raise ValueError(f"arrival kind must be one of {ARRIVAL_KINDS}, not {self.kind!r}")
        if self.kind == "gamma" and not (self.scv > 0 and np.isfinite(self.scv)):
            raise ValueError("gamma arrivals need a positive, finite scv")
        if self.kind == "trace":
            if self.gaps_s is None or len(self.gaps_s) < 2:
                raise ValueError("trace arrivals need at least two interarrival gaps")
            if np.any(self.gaps_s < 0) or not np.sum(self.gaps_s) > 0:
                raise ValueError("trace gaps must be non-negative with a positive sum")

    @classmethod
    def from_trace(cls, timestamps_s: FloatArray) -> ArrivalProcess:
        """A trace process from arrival timestamps in seconds (any order, any origin)."""
        ts = np.sort(np.asarray(timestamps_s, dtype=np.float64))
        return cls(kind="trace", gaps_s=np.diff(ts))

    def describe(self) -> str:
        if self.kind == "gamma":
            return f"gamma renewal, interarrival SCV {self.scv:g}"
        if self.kind == "trace":
            gaps = self.gaps_s if self.gaps_s is not None else np.zeros(1)
            scv = float(np.var(gaps) / np.mean(gaps) ** 2)
            return f"trace replay ({len(gaps) + 1} timestamps, interarrival SCV {scv:.2f})"
        return "poisson"


def arrival_times_ms(
    rate_rps: float, horizon_ms: float, process: ArrivalProcess, rng: np.random.Generator
) -> FloatArray:
    """Sorted arrival times (ms) in ``[0, horizon_ms)`` of one application."""
    if rate_rps <= 0:
        raise ValueError("rate_rps must be positive")
    mean_gap = 1000.0 / rate_rps
    expected = horizon_ms / mean_gap
    chunk = int(expected + 6.0 * np.sqrt(expected + 1.0) + 16)
    if process.kind == "trace":
        assert process.gaps_s is not None
        gaps_s = process.gaps_s
        scale = mean_gap / (float(np.mean(gaps_s)) * 1000.0)
        start = int(rng.integers(len(gaps_s)))
        offset = float(rng.uniform(0.0, mean_gap))
        pieces: list[FloatArray] = []
        total = offset
        position = start
        while total < horizon_ms:
            take = np.resize(np.roll(gaps_s, -position), chunk) * 1000.0 * scale
            times = total + np.cumsum(take)
            pieces.append(times)
            total = float(times[-1])
            position = (position + chunk) % len(gaps_s)
        out = np.concatenate(pieces) if pieces else np.empty(0)
        out = np.concatenate([[offset], out])
        return out[out < horizon_ms]
    pieces = []
    total = 0.0
    if process.kind == "gamma":
        shape = 1.0 / process.scv
        # Start in a random phase of one gap so that streams are not aligned at time zero.
        total = -float(rng.uniform(0.0, mean_gap))
    while total < horizon_ms:
        if process.kind == "gamma":
            gaps = rng.gamma(shape, mean_gap / shape, size=chunk)
        else:
            gaps = rng.exponential(mean_gap, size=chunk)
        times = total + np.cumsum(gaps)
        pieces.append(times)
        total = float(times[-1])
    out = np.concatenate(pieces)
    return out[(out >= 0.0) & (out < horizon_ms)]


def load_trace(path: str | Path | None = None) -> FloatArray:
    """Arrival timestamps (seconds, sorted) from a CSV trace.

    Reads the first column, or the column named ``TIMESTAMP`` / ``timestamp`` when there is a
    header: ISO date-times (the Azure LLM inference trace format) or plain numbers in seconds.
    ``None`` loads the shipped Azure LLM inference trace (code service, 8,819 requests).
    """
    source = Path(path) if path is not None else _DEFAULT_TRACE
    with source.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise ValueError(f"{source}: empty trace")
    column = 0
    header = [c.strip().lower() for c in rows[0]]
    if "timestamp" in header:
        column = header.index("timestamp")
        rows = rows[1:]
    elif not _is_number(rows[0][0]) and not _is_datetime(rows[0][0]):
        rows = rows[1:]
    values = [r[column].strip() for r in rows if len(r) > column and r[column].strip()]
    if len(values) < 3:
        raise ValueError(f"{source}: a trace needs at least three timestamps")
    if _is_number(values[0]):
        seconds = np.array([float(v) for v in values], dtype=np.float64)
    else:
        try:
            stamps = np.array([v.replace(" ", "T") for v in values], dtype="datetime64[ns]")
        except ValueError as error:
            raise ValueError(f"{source}: cannot read timestamps ({error})") from None
        seconds = (stamps - stamps.min()).astype(np.float64) / 1e9
    return np.sort(seconds)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_datetime(text: str) -> bool:
    try:
        np.datetime64(text.strip().replace(" ", "T"))
    except ValueError:
        return False
    return True
