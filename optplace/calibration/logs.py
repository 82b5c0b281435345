"""Request logs: the formats ``optplace calibrate`` reads, one columnar shape they all become.

Three formats, told apart by their header (:func:`detect_format`):

* **plain** (``docs/calibration.md``, and what ``optplace simulate --log-csv`` writes): one row
  per request with ``timestamp_s, model, accelerator, latency_ms`` and, when known,
  ``queue_ms, service_ms`` (both or neither), ``accelerator_type``, ``memory_mb``, ``load`` (a
  label of the steady-state run the request belongs to) and ``application``.
* **ibis-queueing**: the seed authors' per-request edgeTPU logs (``queuing_tpu_*.csv``). The
  device timeline is read off ``tpu_submit_time``/``tpu_end_time``: in completion order a
  request occupies the device from the later of its submission and the previous completion, so
  ``service = end - max(submit, previous end)`` (switch included when one happened). A request
  that arrived while the device was busy queued from its arrival until then
  (``queue = max(submit, previous end) - start``); one that found it idle did not queue, and its
  ``submit - start`` (the hand-off to a backend thread) is the part outside queue and service.
  Each ``vary_rho`` level is one load point and one timeline.
* **ibis-microbenchmark** (``trt_ps_validation.csv``, ``edgetpu_fcfs_validation.csv``): only the
  ``Sequential`` rows (each model alone, in rounds); each is a request that found the device
  idle, so its response time is its service time. ``Concurrent`` rows test the discipline, not
  the profile, and are skipped.

The ibis formats name no accelerator: their requests get the ``accelerator_type`` the caller
gives (default ``coral-edgetpu``, the zoo's name for the seed's edgeTPU) and one device per file.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from optplace.exceptions import LogFormatError

FloatArray = NDArray[np.float64]
TextArray = NDArray[np.object_]

DEFAULT_ACCELERATOR_TYPE = "coral-edgetpu"

PLAIN_REQUIRED = ("timestamp_s", "model", "accelerator", "latency_ms")
PLAIN_OPTIONAL = ("accelerator_type", "queue_ms", "service_ms", "memory_mb", "load", "application")
PLAIN_COLUMNS = PLAIN_REQUIRED + PLAIN_OPTIONAL

_IBIS_QUEUEING = {"model", "vary_rho", "input_rate", "start_time", "end_time", "tpu_submit_time", "tpu_end_time"}
_IBIS_MICROBENCHMARK = {"model", "process_type", "response_time"}


@dataclass(frozen=True)
class RequestLog:
    """The requests of one log file, one array entry per request; times in milliseconds.

    ``queue_ms`` and ``service_ms`` are NaN where the log does not split the response time;
    ``memory_mb`` and ``nominal_rate_rps`` are NaN where not logged. ``arrival_ms + latency_ms``
    is the completion time, whose order on one accelerator within one load point is the order
    in which the device served the requests.
    """

    source: str
    format: str
    model: TextArray
    accelerator: TextArray
    accelerator_type: TextArray
    load_point: TextArray
    arrival_ms: FloatArray
    latency_ms: FloatArray
    queue_ms: FloatArray
    service_ms: FloatArray
    memory_mb: FloatArray
    nominal_rate_rps: FloatArray

    def __len__(self) -> int:
        return int(self.arrival_ms.size)

    @property
    def completion_ms(self) -> FloatArray:
        return self.arrival_ms + self.latency_ms

    @property
    def has_split(self) -> NDArray[np.bool_]:
        return ~np.isnan(self.service_ms)


def detect_format(path: str | Path) -> str:
    """``'plain'``, ``'ibis-queueing'`` or ``'ibis-microbenchmark'`` from a CSV's header."""
    columns = set(_header(Path(path)))
    if set(PLAIN_REQUIRED) <= columns:
        return "plain"
    if columns >= _IBIS_QUEUEING:
        return "ibis-queueing"
    if columns >= _IBIS_MICROBENCHMARK:
        return "ibis-microbenchmark"
    raise LogFormatError(
        f"{path}: unknown log format; a plain log needs the columns {', '.join(PLAIN_REQUIRED)} "
        "(docs/calibration.md), an ibis queueing log needs "
        f"{', '.join(sorted(_IBIS_QUEUEING))}, an ibis microbenchmark {', '.join(sorted(_IBIS_MICROBENCHMARK))}"
    )


def read_log(path: str | Path, *, accelerator_type: str = DEFAULT_ACCELERATOR_TYPE) -> RequestLog:
    """Read one log in any supported format (see the module docstring)."""
    path = Path(path)
    kind = detect_format(path)
    if kind == "plain":
        return read_plain(path, accelerator_type=accelerator_type)
    if kind == "ibis-queueing":
        return read_ibis_queueing(path, accelerator_type=accelerator_type)
    return read_ibis_microbenchmark(path, accelerator_type=accelerator_type)


def read_logs(paths: Iterable[str | Path], *, accelerator_type: str = DEFAULT_ACCELERATOR_TYPE) -> list[RequestLog]:
    return [read_log(p, accelerator_type=accelerator_type) for p in paths]


# --- plain ----------------------------------------------------------------------------------


def read_plain(path: str | Path, *, accelerator_type: str = DEFAULT_ACCELERATOR_TYPE) -> RequestLog:
    """Read a plain request log (columns in :data:`PLAIN_COLUMNS`; unknown columns are an error)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [c.strip() for c in next(reader, [])]
        unknown = [c for c in header if c not in PLAIN_COLUMNS]
        if unknown:
            raise LogFormatError(
                f"{path}: unknown column(s) {unknown}; a plain log has {', '.join(PLAIN_REQUIRED)} and optionally "
                f"{', '.join(PLAIN_OPTIONAL)} (docs/calibration.md)"
            )
        if ("queue_ms" in header) != ("service_ms" in header):
            raise LogFormatError(f"{path}: give both queue_ms and service_ms, or neither")
        index = {c: header.index(c) for c in header}
        columns: dict[str, list] = {c: [] for c in PLAIN_COLUMNS}
        for line, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise LogFormatError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
            for name in ("model", "accelerator"):
                value = row[index[name]].strip()
                if not value:
                    raise LogFormatError(f"{path}:{line}: column {name} is empty")
                columns[name].append(value)
            columns["accelerator_type"].append(
                row[index["accelerator_type"]].strip() or accelerator_type
                if "accelerator_type" in index
                else accelerator_type
            )
            columns["load"].append(row[index["load"]].strip() if "load" in index else "")
            timestamp = _number(path, line, "timestamp_s", row[index["timestamp_s"]])
            latency = _number(path, line, "latency_ms", row[index["latency_ms"]], minimum=0.0)
            columns["timestamp_s"].append(timestamp)
            columns["latency_ms"].append(latency)
            queue = service = math.nan
            if "service_ms" in index:
                queue_text, service_text = row[index["queue_ms"]].strip(), row[index["service_ms"]].strip()
                if queue_text or service_text:
                    queue = _number(path, line, "queue_ms", queue_text, minimum=0.0)
                    service = _number(path, line, "service_ms", service_text, minimum=0.0, positive=True)
                    if queue + service > latency * (1 + 1e-9) + 1e-6:
                        raise LogFormatError(
                            f"{path}:{line}: queue_ms + service_ms = {queue + service:g} exceeds latency_ms = "
                            f"{latency:g}; latency_ms is the whole response time"
                        )
            columns["queue_ms"].append(queue)
            columns["service_ms"].append(service)
            memory = math.nan
            if "memory_mb" in index and row[index["memory_mb"]].strip():
                memory = _number(path, line, "memory_mb", row[index["memory_mb"]], minimum=0.0)
            columns["memory_mb"].append(memory)
    n = len(columns["model"])
    if n == 0:
        raise LogFormatError(f"{path}: no requests")
    return RequestLog(
        source=path.name,
        format="plain",
        model=_text(columns["model"]),
        accelerator=_text(columns["accelerator"]),
        accelerator_type=_text(columns["accelerator_type"]),
        load_point=_text(columns["load"]),
        arrival_ms=np.asarray(columns["timestamp_s"], dtype=np.float64) * 1000.0,
        latency_ms=np.asarray(columns["latency_ms"], dtype=np.float64),
        queue_ms=np.asarray(columns["queue_ms"], dtype=np.float64),
        service_ms=np.asarray(columns["service_ms"], dtype=np.float64),
        memory_mb=np.asarray(columns["memory_mb"], dtype=np.float64),
        nominal_rate_rps=np.full(n, math.nan),
    )


def write_plain(path: str | Path, rows: Iterable[Sequence[object]], *, append: bool = False) -> None:
    """Write plain-log rows (in :data:`PLAIN_COLUMNS` order) with a header unless appending."""
    with Path(path).open("a" if append else "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if not append:
            writer.writerow(PLAIN_COLUMNS)
        writer.writerows(rows)


def simulated_rows(records: Iterable, *, load: str = "") -> list[list[object]]:
    """Plain-log rows from ``simulate(request_log=...)`` records (measured requests only).

    ``latency_ms`` is end to end (front end and network included), ``queue_ms`` the time at the
    accelerator beyond ``service_ms`` (waiting under FCFS, slow-down under PS), so what the
    front end and network add is the part outside queue and service.
    """
    rows: list[list[object]] = []
    for r in records:
        keep = np.flatnonzero(r.measured)
        owner = r.owner[keep]
        at_accelerator = r.departure_ms[keep] - r.accelerator_arrival_ms[keep]
        queue = np.maximum(at_accelerator - r.service_ms[keep], 0.0)
        latency = r.departure_ms[keep] - r.arrival_ms[keep]
        for k, who in enumerate(owner.tolist()):
            rows.append(
                [
                    repr(float(r.arrival_ms[keep[k]]) / 1000.0),
                    r.models[who],
                    r.accelerator,
                    repr(float(latency[k])),
                    r.accelerator_type,
                    repr(float(queue[k])),
                    repr(float(r.service_ms[keep[k]])),
                    repr(float(r.memory_mb[who])),
                    load,
                    r.applications[who],
                ]
            )
    return rows


# --- the seed authors' formats ------------------------------------------------------------------


def read_ibis_queueing(path: str | Path, *, accelerator_type: str = DEFAULT_ACCELERATOR_TYPE) -> RequestLog:
    """Read a released ibis queueing log and rebuild each load level's device timeline."""
    path = Path(path)
    needed = ("model", "input_rate", "vary_rho", "start_time", "end_time", "tpu_submit_time", "tpu_end_time")
    table = _read_columns(path, needed)
    model = table["model"]
    start, end = _floats(path, table, "start_time"), _floats(path, table, "end_time")
    submit, device_end = _floats(path, table, "tpu_submit_time"), _floats(path, table, "tpu_end_time")
    rate, level = _floats(path, table, "input_rate"), _floats(path, table, "vary_rho")
    bad = np.flatnonzero((end < start) | (device_end < submit) | (submit < start) | (device_end > end + 1e-6))
    if bad.size:
        raise LogFormatError(
            f"{path}:{int(bad[0]) + 2}: times out of order; need start_time <= tpu_submit_time <= tpu_end_time <= end_time"
        )
    queue = np.empty(start.size)
    service = np.empty(start.size)
    for value in np.unique(level):
        rows = np.flatnonzero(level == value)
        order = rows[np.argsort(device_end[rows], kind="stable")]
        previous_end = np.concatenate(([-np.inf], device_end[order][:-1]))
        busy_from = np.maximum(submit[order], previous_end)
        service[order] = (device_end[order] - busy_from) * 1000.0
        # A request that found the device idle did not queue: its hand-off (submit - start) is the
        # fixed part. One that found it busy queued from its arrival (its hand-off overlaps the wait).
        queued = previous_end > start[order]
        queue[order] = np.where(queued, busy_from - start[order], 0.0) * 1000.0
    n = start.size
    return RequestLog(
        source=path.name,
        format="ibis-queueing",
        model=_text(model),
        accelerator=_text([path.stem] * n),
        accelerator_type=_text([accelerator_type] * n),
        load_point=_text([f"vary_rho={v:g}" for v in level]),
        arrival_ms=start * 1000.0,
        latency_ms=(end - start) * 1000.0,
        queue_ms=queue,
        service_ms=service,
        memory_mb=np.full(n, math.nan),
        nominal_rate_rps=rate,
    )


def read_ibis_microbenchmark(path: str | Path, *, accelerator_type: str = DEFAULT_ACCELERATOR_TYPE) -> RequestLog:
    """The ``Sequential`` rows of a released ibis microbenchmark: isolated runs, in rounds."""
    path = Path(path)
    table = _read_columns(path, ("model", "process_type", "response_time"))
    keep = np.array([kind.strip() == "Sequential" for kind in table["process_type"]], dtype=bool)
    if not keep.any():
        raise LogFormatError(f"{path}: no Sequential rows (isolated runs) to calibrate from")
    response = _floats(path, table, "response_time")[keep]
    if np.any(response <= 0):
        raise LogFormatError(f"{path}: response_time must be positive")
    n = int(keep.sum())
    # Back-to-back runs: each starts when the previous ends, so the row order is the device order.
    arrival = np.concatenate(([0.0], np.cumsum(response)[:-1]))
    return RequestLog(
        source=path.name,
        format="ibis-microbenchmark",
        model=_text([m.strip() for m, k in zip(table["model"], keep) if k]),
        accelerator=_text([path.stem] * n),
        accelerator_type=_text([accelerator_type] * n),
        load_point=_text(["isolated"] * n),
        arrival_ms=arrival,
        latency_ms=response,
        queue_ms=np.zeros(n),
        service_ms=response.copy(),
        memory_mb=np.full(n, math.nan),
        nominal_rate_rps=np.full(n, math.nan),
    )


# --- helpers ------------------------------------------------------------------------------------


def _header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [c.strip() for c in next(csv.reader(handle), [])]
    except UnicodeDecodeError:
        raise LogFormatError(f"{path}: not a UTF-8 text CSV") from None


def _read_columns(path: Path, needed: Sequence[str]) -> dict[str, list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [c.strip() for c in next(reader, [])]
        missing = [c for c in needed if c not in header]
        if missing:
            raise LogFormatError(f"{path}: missing column(s) {missing}")
        index = [header.index(c) for c in needed]
        out: dict[str, list[str]] = {c: [] for c in needed}
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < len(header):
                raise LogFormatError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
            for name, i in zip(needed, index):
                out[name].append(row[i])
    if not out[needed[0]]:
        raise LogFormatError(f"{path}: no requests")
    return out


def _floats(path: Path, table: dict[str, list[str]], column: str) -> FloatArray:
    try:
        values = np.asarray(table[column], dtype=np.float64)
    except ValueError:
        for line, text in enumerate(table[column], start=2):
            _number(path, line, column, text)
        raise
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise LogFormatError(f"{path}:{int(bad[0]) + 2}: column {column} must be a finite number")
    return values


def _number(
    path: Path, line: int, column: str, text: str, *, minimum: float | None = None, positive: bool = False
) -> float:
    try:
        value = float(text)
    except ValueError:
        raise LogFormatError(f"{path}:{line}: column {column} must be a number, not {text.strip()!r}") from None
    if not math.isfinite(value):
        raise LogFormatError(f"{path}:{line}: column {column} must be a finite number")
    if minimum is not None and value < minimum:
        raise LogFormatError(f"{path}:{line}: column {column} must be >= {minimum:g}, not {value:g}")
    if positive and value <= 0:
        raise LogFormatError(f"{path}:{line}: column {column} must be positive")
    return value


def _text(values: Sequence[str]) -> TextArray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out
