"""The extender wire types: Go field names out, any letter case in, as Go's encoding/json."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from optplace.api.extender import ExtenderArgs, ExtenderFilterResult, HostPriority
from tests.k8s.conftest import UPSTREAM


@given(st.lists(st.booleans(), min_size=9, max_size=9))
def test_any_letter_case_of_the_field_names_reads_the_same(upper: list[bool]) -> None:
    """NodeNames, nodenames, NODENAMES, nOdEnAmEs: one field, as Go's case-insensitive decoder reads it."""
    key = "".join(c.upper() if flip else c.lower() for c, flip in zip("nodenames", upper))
    args = ExtenderArgs.model_validate({"pOD": {"metadata": {"name": "p"}}, key: ["a", "b"]})
    assert args.node_names == ["a", "b"] and args.pod == {"metadata": {"name": "p"}}


def test_an_exact_name_wins_over_a_case_folded_duplicate() -> None:
    """With both 'NodeNames' and 'nodenames' present, the exact Go name is taken."""
    args = ExtenderArgs.model_validate({"nodenames": ["x"], "NodeNames": ["y"]})
    assert args.node_names == ["y"]


def test_replies_marshal_like_the_upstream_types() -> None:
    """Field names and order as json.Marshal writes them upstream; nil pointers as null."""
    upstream = json.loads(UPSTREAM["ExtenderFilterResult"])
    ours = ExtenderFilterResult.model_validate(upstream).model_dump(mode="json", by_alias=True)
    assert ours == upstream and list(ours) == list(upstream)
    empty = ExtenderFilterResult(NodeNames=["n"]).model_dump(mode="json", by_alias=True)
    assert empty == {
        "Nodes": None,
        "NodeNames": ["n"],
        "FailedNodes": {},
        "FailedAndUnresolvableNodes": {},
        "Error": "",
    }
    assert HostPriority(Host="myhost", Score=1).model_dump(by_alias=True) == json.loads(UPSTREAM["HostPriority"])
