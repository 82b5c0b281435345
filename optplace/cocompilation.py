"""EdgeTPU co-compilation: which switch overheads an FCFS accelerator may pay for the backends it holds.

Models compiled together for an edgeTPU share its on-chip parameter cache (about 8 MB), so a
switch between them reloads less (Google's Coral references: 9-23 ms per switch compiled apart,
1.5-10.6 ms co-compiled on USB 3.0, Dev Board and Raspberry Pi 4 hosts; ``optplace.zoo.CORAL_SWITCH_MS``).
An instance declares the binaries it may deploy as ``cocompilation_groups``. The rule, which the
evaluator, the heuristics' probe, the formulations, the configuration pricing's set check and the
simulator all follow (docs/concepts.md, "Co-compilation"):

* **Compiled apart** (always possible): a switch into backend j costs its profile's
  ``switch_overhead_ms``.
* A group declared for the accelerator's type **contains** a device's backends when there are at
  least two, each of a different model, and every one of those models is a member. The device may
  then run the group's binary: a switch into member m costs the group's ``switch_overhead_ms[m]``
  (at most the profile's, checked by the domain model). A device holding a model outside the group,
  or two backends of one unshareable model (two processes cannot share one binary), pays the
  profiles' overheads: partly co-compiled sets are not modelled, which errs on the safe side.
* A device's **options** are the containing groups in declaration order, then compiled apart. A
  placement is feasible when every device meets every check under one of its options; the
  evaluator reports the first option that works (``AcceleratorEvaluation.cocompilation_group``), and
  the simulator runs the device with it. The methods choose groups by choosing which models go
  together; declaration order only breaks ties between options that all work.

A switch overhead stays a property of the *destination* model under every option, so the switch
queue of :mod:`optplace.latency` solves every option exactly as it is. Every option's overheads are
at least the least overhead a model can have on the type (:meth:`Compilations.least_switch_ms`),
which is what relaxations (bounds) use, and at most the profile's, which conservative rows use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from optplace.domain import Instance


@dataclass(frozen=True)
class SwitchOption:
    """One way to compile a device's models: the group's name (None: compiled apart) and the
    overhead of a switch into each backend, in the order the backends were given."""

    group: str | None
    switch_ms: tuple[float, ...]


class Compilations:
    """The co-compilation groups of an instance, indexed for the rule above."""

    def __init__(self, instance: Instance):
        self.names: list[str] = []
        self.type_of: list[str] = []
        self.overheads: list[dict[str, float]] = []
        self._by_member: dict[tuple[str, str], frozenset[int]] = {}
        members: dict[tuple[str, str], set[int]] = {}
        self._least: dict[tuple[str, str], float] = {}
        for index, group in enumerate(instance.cocompilation_groups):
            self.names.append(group.name)
            self.type_of.append(group.accelerator_type)
            self.overheads.append(dict(group.switch_overhead_ms))
            for model, overhead in group.switch_overhead_ms.items():
                key = (group.accelerator_type, model)
                members.setdefault(key, set()).add(index)
                self._least[key] = min(self._least.get(key, math.inf), overhead)
        self._by_member = {key: frozenset(ids) for key, ids in members.items()}
        self.index = {name: k for k, name in enumerate(self.names)}

    @property
    def any(self) -> bool:
        """Whether the instance declares any group."""
        return bool(self.names)

    def types(self) -> set[str]:
        """Accelerator types some group is compiled for."""
        return set(self.type_of)

    def containing(self, type_name: str, models: Sequence[str]) -> list[int]:
        """Indices (declaration order) of the groups for ``type_name`` that contain these backends' models."""
        if len(models) < 2 or len(set(models)) < len(models):
            return []
        found: frozenset[int] | None = None
        for model in models:
            ids = self._by_member.get((type_name, model))
            if not ids:
                return []
            found = ids if found is None else found & ids
            if not found:
                return []
        return sorted(found or ())

    def options(self, type_name: str, models: Sequence[str], apart_ms: Sequence[float]) -> list[SwitchOption]:
        """The device's options: the containing groups in declaration order, then compiled apart.

        ``models`` and ``apart_ms`` hold one entry per backend (the profile's overhead compiled apart).
        """
        out = [
            SwitchOption(self.names[g], tuple(self.overheads[g][m] for m in models))
            for g in self.containing(type_name, models)
        ]
        out.append(SwitchOption(None, tuple(float(o) for o in apart_ms)))
        return out

    def switch_ms(self, group: str | None, model: str, apart_ms: float) -> float:
        """Overhead of a switch into ``model`` on a device running ``group`` (None: compiled apart)."""
        if group is None:
            return float(apart_ms)
        return self.overheads[self.index[group]][model]

    def least_switch_ms(self, type_name: str, model: str, apart_ms: float) -> float:
        """The least overhead a switch into ``model`` can cost on ``type_name`` under any option."""
        return min(float(apart_ms), self._least.get((type_name, model), math.inf))
