"""The pieces of the request guard and the fair queue on their own: the JSON structure scan, Host
and content-type checks, the default allow-list, and which task a worker slot takes next."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optplace.api.guard import host_allowed, is_json
from optplace.api.limits import json_structure_problem
from optplace.api.pool import Task, WorkerPool
from optplace.api.settings import Settings

TEXT = st.text(alphabet='ab"\\[]{},:\n\u00e9\U0001f600', max_size=6)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=25,
)


def depth_and_values(value: Any) -> tuple[int, int]:
    """Nesting depth (containers) and number of array items and object members, by walking the value."""
    if isinstance(value, dict | list):
        items = list(value.values()) if isinstance(value, dict) else value
        inner = [depth_and_values(v) for v in items]
        return 1 + max((d for d, _ in inner), default=0), len(items) + sum(n for _, n in inner)
    return 0, 0


@settings(max_examples=300, deadline=None)
@given(JSON, st.sampled_from([1, 2, 3, 7, 1 << 20]), st.booleans())
def test_structure_scan_matches_the_parsed_document(value: Any, chunk: int, ascii_only: bool) -> None:
    """Depth is exact and the value count never undercounts, whatever the strings hold (quotes,
    backslash runs, brackets) and wherever chunks split them."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    depth, values = depth_and_values(value)
    containers = body.count(b"[") + body.count(b"{")  # an upper bound on the empty containers counted
    assert json_structure_problem(body, depth, values + containers, chunk) is None
    if depth:
        assert "nested deeper" in (json_structure_problem(body, depth - 1, 10**9, chunk) or "")
    if values:
        assert "more than" in (json_structure_problem(body, 10**9, values - 1, chunk) or "")


def test_structure_scan_reports_the_offset_of_deep_nesting() -> None:
    """The message says where the limit is crossed; brackets inside strings do not count."""
    assert json_structure_problem(b'{"a": "[[[[[[[[[["}', 1, 100) is None
    message = json_structure_problem(b'{"a": [[[1]]]}', 3, 100)
    assert message is not None and "at byte 8" in message


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("127.0.0.1:8000", ["localhost", "127.0.0.1", "::1"], True),
        ("[::1]:8000", ["localhost", "127.0.0.1", "::1"], True),
        ("LOCALHOST", ["localhost"], True),
        ("evil.example:8000", ["localhost", "127.0.0.1", "::1"], False),
        ("localhost.evil.example", ["localhost"], False),
        (None, ["localhost"], False),
        ("anything", ["*"], True),
        ("api.example:443", ["api.example:443"], True),
        ("api.example:80", ["api.example:443"], False),
    ],
)
def test_host_allow_list(host: str | None, allowed: list[str], expected: bool) -> None:
    """Names match with or without a port; an entry with a port matches that port only."""
    assert host_allowed(host, allowed) is expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ("application/json; charset=latin-1", False),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("", False),
    ],
)
def test_only_utf8_json_bodies(content_type: str, expected: bool) -> None:
    """application/json (UTF-8 or no charset) only: what a cross-site form can send never passes."""
    assert is_json(content_type) is expected


def test_default_host_allow_list_follows_the_bind_address() -> None:
    """Loopback binds answer to loopback names only; other binds to any host unless configured."""
    assert Settings(host="127.0.0.1").host_allow_list() == ["localhost", "127.0.0.1", "::1"]
    assert Settings(host="::1").host_allow_list() == ["localhost", "127.0.0.1", "::1"]
    assert Settings(host="0.0.0.0").host_allow_list() == ["*"]
    assert Settings(host="0.0.0.0", allowed_hosts="api.example, API.example:8443").host_allow_list() == [
        "api.example",
        "api.example:8443",
    ]


def test_sync_capacity_and_per_client_defaults() -> None:
    """With two or more workers one is kept for synchronous solves and a client may use all but one."""
    assert (Settings(workers=1).reserved_for_sync(), Settings(workers=1).workers_per_client()) == (0, 1)
    assert (Settings(workers=2).reserved_for_sync(), Settings(workers=2).workers_per_client()) == (1, 1)
    assert (Settings(workers=4).reserved_for_sync(), Settings(workers=4).workers_per_client()) == (1, 3)
    assert Settings(workers=2, sync_reserved_workers=5).reserved_for_sync() == 1  # jobs keep one worker


class _Listener:
    def on_start(self, task: Task) -> bool:
        return True

    def on_incumbent(self, task: Task, result_json: str) -> None:
        pass

    def on_done(self, task: Task, outcome: Any) -> None:
        pass


def _pool(size: int, **limits: Any) -> WorkerPool:
    return WorkerPool(size, 16, 0.0, _Listener(), **limits)  # never started: no processes


def _task(task_id: str, kind: str, client: str) -> Task:
    return Task(task_id, kind, "{}", "first_fit", {}, 1.0, client=client)  # type: ignore[arg-type]


def _take(pool: WorkerPool, slot: int) -> str | None:
    with pool._lock:
        task = pool._next_task(slot)
        if task is None:
            return None
        del pool._ready[task.id], pool._waiting[task.id]
        pool._running[task.id] = task
        return task.id


def test_a_reserved_slot_runs_synchronous_solves_only() -> None:
    """The last slot of a two-worker pool never takes a job, even when nothing else waits."""
    pool = _pool(2, reserved_for_sync=1)
    pool.submit(_task("job", "job", "a"))
    assert _take(pool, 1) is None
    assert _take(pool, 0) == "job"
    pool.submit(_task("solve", "solve", "b"))
    assert _take(pool, 1) == "solve"


def test_no_client_runs_more_than_its_share_and_the_idle_client_goes_first() -> None:
    """With a share of one worker, client a's second job waits while b's job runs."""
    pool = _pool(3, workers_per_client=1)
    for task in (_task("a1", "job", "a"), _task("a2", "job", "a"), _task("b1", "job", "b")):
        pool.submit(task)
    assert [_take(pool, 0), _take(pool, 1), _take(pool, 2)] == ["a1", "b1", None]


def test_synchronous_solves_go_before_jobs() -> None:
    """A waiting synchronous solve is taken before older jobs."""
    pool = _pool(1)
    pool.submit(_task("job", "job", "a"))
    pool.submit(_task("solve", "solve", "a"))
    assert _take(pool, 0) == "solve"


def test_admission_is_bounded_per_client() -> None:
    """A client's active_per_client-plus-first task is refused with ClientBusy; others still get in."""
    from optplace.api.pool import ClientBusy

    pool = _pool(1, active_per_client=2)
    pool.submit(_task("a1", "job", "a"))
    pool.submit(_task("a2", "job", "a"))
    with pytest.raises(ClientBusy):
        pool.submit(_task("a3", "job", "a"))
    pool.submit(_task("b1", "job", "b"))
    pool.submit(_task("r1", "job", "a"), bounded=False)  # re-queued at start-up: admitted regardless
