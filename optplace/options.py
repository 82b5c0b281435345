"""Typed method options: the base model every method's ``params.options`` is validated through,
the error it raises, and option types that several methods share.

A method declares its options as a subclass of :class:`MethodOptions` (frozen, ``extra="forbid"``,
strict types: ``"5"`` is not a number and ``true`` is not 1), with a range, enum or length bound
and a description on every field, and registers it (``@register(..., options=TheOptions)``, see
:mod:`optplace.registry`). It reads them with ``TheOptions.of(params, instance)``. Options that
name applications or accelerators are checked against the instance, which validators find in the
validation context (``info.context["instance"]``; absent when only the shape is checked).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo

from optplace.domain import Instance, Name
from optplace.exceptions import MethodOptionsError
from optplace.params import SolveParams

__all__ = ["HeuristicNames", "MethodOptions", "MethodOptionsError", "NoOptions", "Placement", "Seconds", "Share"]

# Upper bounds shared by options that take a duration or a count: generous for any real use,
# small enough that no option can ask for unbounded time or memory by itself.
MAX_OPTION_SECONDS = 86_400.0
MAX_LIST_ITEMS = 100


class MethodOptions(BaseModel):
    """Base of every method's options model."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @classmethod
    def of(cls, params: SolveParams, instance: Instance | None = None, method: str | None = None) -> Self:
        """The typed options in ``params.options`` (raises :class:`MethodOptionsError`)."""
        try:
            return cls.model_validate(params.options, context={"instance": instance})
        except ValidationError as error:
            raise MethodOptionsError(method or cls.__name__, error) from None


class NoOptions(MethodOptions):
    """The method takes no options."""


def _instance(info: ValidationInfo) -> Instance | None:
    context = info.context
    return context.get("instance") if isinstance(context, dict) else None


def _known_placement(placement: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    instance = _instance(info)
    if instance is None:
        return placement
    applications = {a.name for a in instance.applications}
    accelerators = {acc.name for _, acc in instance.accelerators()}
    wrong = [f"unknown application {a!r}" for a in placement if a not in applications]
    wrong += [f"unknown accelerator {d!r} (for {a!r})" for a, d in placement.items() if d not in accelerators]
    if wrong:
        shown = "; ".join(wrong[:5]) + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        raise ValueError(f"{shown}: a placement maps the instance's application names to its accelerator names")
    return placement


def _registered_heuristics(names: list[str]) -> list[str]:
    from optplace.registry import list_methods

    known = {m.name for m in list_methods() if m.kind == "heuristic"}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"not a registered heuristic: {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
        )
    return names


Placement = Annotated[
    dict[Name, Name],
    Field(description="Application name -> accelerator name, both from the instance."),
    AfterValidator(_known_placement),
]
"""A placement given as an option (a warm start): every name must exist in the instance."""

HeuristicNames = Annotated[
    list[Name],
    Field(min_length=1, max_length=MAX_LIST_ITEMS, description="Names of registered heuristic methods."),
    AfterValidator(_registered_heuristics),
]

Seconds = Annotated[float, Field(ge=0, le=MAX_OPTION_SECONDS, allow_inf_nan=False)]
Share = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
