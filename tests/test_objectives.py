"""hosts_nothing: which objective lists make the empty placement the one optimum."""

from __future__ import annotations

import pytest

from optplace.domain import Instance
from optplace.objectives import hosts_nothing
from tests.conftest import make_instance


@pytest.mark.parametrize(
    ("objectives", "changes", "empty_wins"),
    [
        (["min_accelerators"], {}, True),
        (["min_accelerators", "max_hosted"], {}, True),  # the primary decides; max_hosted only breaks ties
        (["max_hosted", "min_accelerators"], {}, False),
        (["min_accelerators"], {"host_all": True}, False),
        (["min_cost"], {}, True),  # every type costs 1 by default
        (
            ["min_cost", "max_hosted"],
            {
                "accelerator_types": [
                    {"name": "gpu", "discipline": "ps", "cost": 0},
                    {"name": "tpu", "discipline": "fcfs", "cost": 0},
                ]
            },
            False,
        ),
        (["min_migrations", "min_accelerators"], {}, True),  # no current accelerators: migrations tie at 0
        (["min_migrations"], {}, False),  # a tie everywhere: the empty placement is not the one optimum
    ],
)
def test_hosts_nothing(objectives, changes, empty_wins) -> None:
    """Lexicographic reading: constant objectives pass the decision on, maximised ones settle it for hosting."""
    instance = Instance.model_validate(make_instance(objectives=objectives, **changes))
    assert (hosts_nothing(instance) is not None) == empty_wins


def test_current_accelerators_make_migrations_decide() -> None:
    """With an application on its current accelerator, min_migrations rewards keeping it: no warning."""
    doc = make_instance(objectives=["min_migrations", "min_accelerators"])
    doc["applications"][0]["current_accelerator"] = "gpu1"
    assert hosts_nothing(Instance.model_validate(doc)) is None
