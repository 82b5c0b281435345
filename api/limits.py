"""Size limits that are checked before a request body is parsed: the body's JSON structure
(nesting depth and number of values) and the counts of applications, nodes and accelerators."""

from __future__ import annotations

from typing import Any

import numpy as np

from optplace.api.settings import Settings

SCAN_CHUNK = 1 << 20


def json_structure_problem(body: bytes, max_depth: int, max_values: int, chunk: int = SCAN_CHUNK) -> str | None:
    """Why ``body`` is nested deeper than ``max_depth`` or holds more than ``max_values`` values
    (array items and object members), or None. It reads the raw bytes without building any
    object: string contents are skipped (a quote preceded by an odd run of backslashes is part of
    its string), and brackets and commas outside strings are counted. Vectorised over chunks of
    ``chunk`` bytes: a 10 MB body costs tens of milliseconds and a few MB, and numpy releases the
    GIL while it runs. Malformed JSON is not diagnosed here: the parser that runs next rejects it."""
    data = np.frombuffer(body, dtype=np.uint8)
    in_string = 0  # 1 when the previous chunk ended inside a string
    carried = 0  # backslashes at the end of the previous chunk
    depth = values = 0
    for start in range(0, data.size, chunk):
        part = data[start : start + chunk]
        real = _unescaped_quotes(part, carried)
        folded = part & 0xDF  # '{' -> '[' and '}' -> ']'
        marks = np.flatnonzero((folded == 0x5B) | (folded == 0x5D) | (part == 0x2C))
        outside = marks[(np.searchsorted(real, marks) + in_string) % 2 == 0]
        kinds = folded[outside]
        opening = kinds == 0x5B
        steps = opening.astype(np.int64) - (kinds == 0x5D)
        if steps.size:
            levels = depth + np.cumsum(steps)
            if int(levels.max()) > max_depth:
                offset = start + int(outside[int(np.argmax(levels > max_depth))])
                return f"the body is nested deeper than {max_depth} levels (at byte {offset})"
            depth = int(levels[-1])
        values += int(np.count_nonzero(opening)) + int(np.count_nonzero(kinds == 0x0C))  # ',' & 0xDF
        if values > max_values:
            return f"the body holds more than {max_values} JSON values (array items and object members)"
        in_string = (in_string + real.size) % 2
        carried = _trailing_backslashes(part, carried)
    return None


def _unescaped_quotes(part: np.ndarray, carried: int) -> np.ndarray:
    """Positions of the quotes in ``part`` that open or close a string: those not preceded by an
    odd run of backslashes (``carried`` of them ended the previous chunk)."""
    quotes = np.flatnonzero(part == 0x22)
    slashes = np.flatnonzero(part == 0x5C)
    if not slashes.size and not carried:
        return quotes
    after_slash = np.zeros(quotes.size, dtype=bool)
    after_slash[quotes > 0] = part[quotes[quotes > 0] - 1] == 0x5C
    after_slash[quotes == 0] = carried > 0
    suspects = quotes[after_slash]
    # runs of consecutive backslashes: each backslash's run starts where the gap to the previous one exceeds 1
    run_start = np.maximum.accumulate(np.where(np.diff(slashes, prepend=-2) != 1, slashes, -1))
    lengths = np.zeros(suspects.size, dtype=np.int64)
    inside = suspects > 0
    ends = np.searchsorted(slashes, suspects[inside] - 1)
    lengths[inside] = suspects[inside] - run_start[ends]
    lengths += np.where(lengths == suspects, carried, 0)  # a run from position 0 continues the carried one
    lengths[~inside] = carried
    escaped = np.zeros(quotes.size, dtype=bool)
    escaped[np.flatnonzero(after_slash)] = lengths % 2 == 1
    return quotes[~escaped]


def _trailing_backslashes(part: np.ndarray, carried: int) -> int:
    plain = np.flatnonzero(part != 0x5C)
    if not plain.size:
        return carried + part.size
    return int(part.size - 1 - plain[-1])


def count_errors(instance: Any, settings: Settings, prefix: str = "/instance") -> list[dict[str, str]]:
    """Entries for an instance (still raw JSON) with more applications, nodes or accelerators than
    the server accepts. Checked before full validation, so an oversized instance costs little."""
    if not isinstance(instance, dict):
        return []
    errors = []
    field = prefix.strip("/").replace("/", ".")

    def too_many(name: str, count: int, limit: int, setting: str, pointer: str) -> None:
        errors.append(
            {
                "field": f"{field}.{pointer}",
                "pointer": f"{prefix}/{pointer}",
                "code": "too_many_items",
                "message": f"{count} {name}; this server accepts at most {limit} ({setting})",
            }
        )

    applications = instance.get("applications")
    if isinstance(applications, list) and len(applications) > settings.max_applications:
        too_many(
            "applications", len(applications), settings.max_applications, "OPTPLACE_MAX_APPLICATIONS", "applications"
        )
    nodes = instance.get("nodes")
    if isinstance(nodes, list):
        if len(nodes) > settings.max_nodes:
            too_many("nodes", len(nodes), settings.max_nodes, "OPTPLACE_MAX_NODES", "nodes")
        accelerators = sum(
            len(n["accelerators"]) for n in nodes if isinstance(n, dict) and isinstance(n.get("accelerators"), list)
        )
        if accelerators > settings.max_accelerators:
            too_many("accelerators", accelerators, settings.max_accelerators, "OPTPLACE_MAX_ACCELERATORS", "nodes")
    return errors
