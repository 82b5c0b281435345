"""Switch overhead from Google's Coral reference runs (``optplace/data/coral``, Apache-2.0).

A ``cocompilation`` reference times running two models once each, alternately, on one edgeTPU:
every inference follows a switch, so ``T = s_a + s_b + o_a + o_b`` with ``s`` the isolated times
of the ``basic_engine`` reference on the same host. The pair's **per-switch overhead** is
``(T - s_a - s_b) / 2``: only the sum ``o_a + o_b`` is identified, so each direction gets the mean.
Run with the two models compiled separately (*alternating*: the switch reloads the parameter
cache) and compiled together (*co-compiled*: they share the cache, only what does not fit is
reloaded). References are single numbers (means over Google's benchmark runs) without a spread;
the spread available is between hosts of one class, for example the two USB 2.0 Raspberry Pi 3
models, which :func:`fit_host_pair_model` uses to judge the fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "coral"

# host key -> (description, host class); classes group hosts with the same edgeTPU link.
HOSTS: dict[str, tuple[str, str]] = {
    "x86_64": ("Intel Xeon W-2135 + USB Accelerator, USB 3.0", "usb3"),
    "aarch64": ("Coral Dev Board (edgeTPU on the SoC's bus)", "usb3"),
    "rp4b": ("Raspberry Pi 4 B + USB Accelerator, USB 3.0 (the seed's host kind)", "usb3"),
    "rp3b": ("Raspberry Pi 3 B + USB Accelerator, USB 2.0", "usb2"),
    "rp3b+": ("Raspberry Pi 3 B+ + USB Accelerator, USB 2.0", "usb2"),
}
HOST_CLASSES = {"usb3": "USB 3.0 hosts and the Dev Board", "usb2": "USB 2.0 Raspberry Pi 3 hosts"}

# pair key -> the two models, by the reference files' names.
PAIRS: dict[str, tuple[str, str]] = {
    "mobilenet_v1+v2": ("mobilenet_v1_1.0_224_quant", "mobilenet_v2_1.0_224_quant"),
    "inception_v1+v4": ("inception_v1_224_quant", "inception_v4_299_quant"),
}


@dataclass(frozen=True)
class CoralSwitch:
    """Per-switch overhead of one model pair on one host, alternating and co-compiled (ms)."""

    host: str
    host_class: str
    pair: str
    isolated_ms: tuple[float, float]
    alternating_pair_ms: float
    cocompiled_pair_ms: float

    @property
    def alternating_switch_ms(self) -> float:
        return (self.alternating_pair_ms - sum(self.isolated_ms)) / 2.0

    @property
    def cocompiled_switch_ms(self) -> float:
        return (self.cocompiled_pair_ms - sum(self.isolated_ms)) / 2.0

    @property
    def cocompiled_ratio(self) -> float:
        """Co-compiled over alternating per-switch overhead."""
        return self.cocompiled_switch_ms / self.alternating_switch_ms

    def to_json(self) -> dict:
        return {
            "host": self.host,
            "host_class": self.host_class,
            "pair": self.pair,
            "isolated_ms": list(self.isolated_ms),
            "alternating_pair_ms": self.alternating_pair_ms,
            "cocompiled_pair_ms": self.cocompiled_pair_ms,
            "alternating_switch_ms": self.alternating_switch_ms,
            "cocompiled_switch_ms": self.cocompiled_switch_ms,
            "cocompiled_ratio": self.cocompiled_ratio,
        }


def _read(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{path}:{number}: expected 'NAME TIME', got {line!r}") from None
    return out


def switch_overheads(data_dir: str | Path = DATA_DIR) -> list[CoralSwitch]:
    """Every (host, pair) of the references, with its alternating and co-compiled overheads."""
    data_dir = Path(data_dir)
    out: list[CoralSwitch] = []
    for host, (_, host_class) in HOSTS.items():
        isolated = _read(data_dir / f"basic_engine_reference_{host}.csv")
        pairs = _read(data_dir / f"cocompilation_reference_{host}.csv")
        for pair, (a, b) in PAIRS.items():
            s = (isolated[f"{a}_edgetpu.tflite"], isolated[f"{b}_edgetpu.tflite"])
            alternating = pairs[f"{a}_edgetpu.tflite,{b}_edgetpu.tflite"]
            cocompiled = pairs[
                f"cocompilation/{a}_cocompiled_with_{b}_edgetpu.tflite,cocompilation/{b}_cocompiled_with_{a}_edgetpu.tflite"
            ]
            out.append(CoralSwitch(host, host_class, pair, s, alternating, cocompiled))
    return out


def switch_overhead(host: str, pair: str, *, cocompiled: bool = False, data_dir: str | Path = DATA_DIR) -> float:
    """The per-switch overhead of ``pair`` on ``host`` (ms)."""
    for entry in switch_overheads(data_dir):
        if entry.host == host and entry.pair == pair:
            return entry.cocompiled_switch_ms if cocompiled else entry.alternating_switch_ms
    raise KeyError(f"no Coral reference for host {host!r} and pair {pair!r}; hosts {list(HOSTS)}, pairs {list(PAIRS)}")


@dataclass(frozen=True)
class HostPairFit:
    """log(overhead) = host effect + pair effect, least squares over the references of one kind."""

    kind: str  # "alternating" or "cocompiled"
    host_factor: dict[str, float]  # overhead of a host relative to the Raspberry Pi 4 (same pair)
    pair_ms_on_rp4b: dict[str, float]  # fitted per-switch overhead of each pair on a Pi 4
    fitted_ms: dict[tuple[str, str], float]
    measured_ms: dict[tuple[str, str], float]

    def residual_percent(self) -> dict[tuple[str, str], float]:
        return {k: 100.0 * (self.fitted_ms[k] - v) / v for k, v in self.measured_ms.items()}

    def max_residual_percent(self) -> float:
        return max(abs(v) for v in self.residual_percent().values())


def replicate_spread_percent(entries: list[CoralSwitch], *, cocompiled: bool = False) -> dict[str, float]:
    """Per pair: half the difference between the two USB 2.0 Raspberry Pi 3 hosts, in % of their mean.

    The two Pi 3 models are the same edgeTPU on the same USB 2.0 link, the nearest the references
    come to a repeated measurement, so their disagreement is the measurement spread a fit is
    judged against.
    """
    out = {}
    for pair in PAIRS:
        values = [
            (e.cocompiled_switch_ms if cocompiled else e.alternating_switch_ms)
            for e in entries
            if e.pair == pair and e.host in ("rp3b", "rp3b+")
        ]
        if len(values) == 2:
            out[pair] = 100.0 * abs(values[0] - values[1]) / (values[0] + values[1])
    return out


def fit_host_pair_model(entries: list[CoralSwitch], *, cocompiled: bool = False) -> HostPairFit:
    """Least-squares fit of log(per-switch overhead) = host + pair over ``entries``.

    A multiplicative model: a host scales every pair's overhead by one factor (its link and CPU),
    a pair has one base overhead (how much of its parameters must be reloaded). Factors are
    reported relative to the Raspberry Pi 4, the seed's host.
    """
    hosts = list(dict.fromkeys(e.host for e in entries))
    pairs = list(dict.fromkeys(e.pair for e in entries))
    measured = {(e.host, e.pair): (e.cocompiled_switch_ms if cocompiled else e.alternating_switch_ms) for e in entries}
    if any(v <= 0 for v in measured.values()):
        raise ValueError("every overhead must be positive to fit on a log scale")
    design = np.zeros((len(entries), len(hosts) + len(pairs) - 1))
    target = np.empty(len(entries))
    for row, (host, pair) in enumerate(measured):
        design[row, hosts.index(host)] = 1.0
        if pairs.index(pair) > 0:  # the first pair is the reference level
            design[row, len(hosts) + pairs.index(pair) - 1] = 1.0
        target[row] = math.log(measured[(host, pair)])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    fitted = {key: float(math.exp(design[row] @ coef)) for row, key in enumerate(measured)}
    host_effect = dict(zip(hosts, coef[: len(hosts)]))
    pair_effect = {pairs[0]: 0.0, **{p: float(c) for p, c in zip(pairs[1:], coef[len(hosts) :])}}
    reference = host_effect.get("rp4b", next(iter(host_effect.values())))
    return HostPairFit(
        kind="cocompiled" if cocompiled else "alternating",
        host_factor={h: float(math.exp(v - reference)) for h, v in host_effect.items()},
        pair_ms_on_rp4b={p: float(math.exp(reference + v)) for p, v in pair_effect.items()},
        fitted_ms=fitted,
        measured_ms=measured,
    )
