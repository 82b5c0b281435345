"""Every exception and warning optplace raises on purpose, in one module.

The modules that raise them re-export them under their old names (``optplace.io.InstanceError``,
``optplace.solve.PlacementVerificationError``, ...), so existing imports keep working. Catch by
meaning:

* :class:`OptplaceError` — anything below.
* :class:`InvalidInputError` (also a ``ValueError``) — the input is wrong and the message says what
  to fix: an instance (:class:`InstanceError`, with one entry per problem in ``errors``), solve
  parameters (:class:`ParamsError`; :class:`MethodOptionsError` for ``params.options`` a method
  does not take), a method name (:class:`UnknownMethodError`), re-placement changes
  (:class:`ChangesError`), a profiles document, a request log, a file to convert, an instance a
  method does not handle.
* :class:`PlacementVerificationError` (also a ``RuntimeError``) — a method returned a placement the
  evaluator rejects. That is a bug in the method, never a result. Likewise
  :class:`PlanVerificationError` for a re-placement plan that fails its replay.
* :class:`MissingExtraError` (also an ``ImportError``) — a feature needs an optional dependency;
  the message names the ``pip install 'optplace[extra]'`` line.

Warnings: :class:`OptplaceWarning` and its subclasses, issued with :func:`warnings.warn`, for input
that is valid but probably not what was meant (units, objectives that host nothing).

This module imports nothing from optplace, so every module can import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

    from optplace.evaluate import Evaluation


class OptplaceError(Exception):
    """Base class of every exception optplace raises on purpose."""


class InvalidInputError(OptplaceError, ValueError):
    """The input is invalid; the message says what to fix.

    ``errors`` holds one ``{"field", "pointer", "code", "message"}`` entry per problem where the
    input has fields (``pointer`` is an RFC 6901 JSON pointer into the document); it is empty when
    the message alone says it all.
    """

    errors: list[dict[str, str]]

    def __init__(self, message: str = "", errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.errors = list(errors or [])


class InstanceError(InvalidInputError):
    """An instance file or document is unreadable or invalid.

    ``errors`` holds one entry per problem (perhaps only the first ones); ``total`` counts them all;
    ``source`` names the file or document.
    """

    def __init__(self, source: str, errors: list[dict[str, str]], total: int | None = None):
        self.source = source
        self.total = len(errors) if total is None else total
        lines = "\n".join(f"  {e['field'] or '(instance)'}: {e['message']}" for e in errors)
        more = f"\n  ... and {self.total - len(errors)} more errors" if self.total > len(errors) else ""
        super().__init__(f"{source}: invalid instance\n{lines}{more}", errors)


class ParamsError(InvalidInputError):
    """Solve parameters (``SolveParams`` or the mapping given for them) are invalid."""


class MethodOptionsError(ParamsError):
    """``params.options`` do not fit the method's options model (see ``optplace.options``).

    ``errors`` holds one entry per problem: ``field`` (``options.<key>...``), ``pointer`` (into the
    params, ``/options/<key>``), ``loc`` (the path inside ``options``), ``code`` and ``message``.
    """

    def __init__(self, method: str, error: ValidationError):
        self.method = method
        entries: list[dict] = []
        for item in error.errors(include_url=False):
            loc = tuple(part for part in item.get("loc", ()) if part != "[key]")
            code = str(item.get("type", "invalid"))
            message = str(item.get("msg", "")).removeprefix("Value error, ")
            if code == "extra_forbidden":
                message = (
                    "unknown option; the method's options are listed by 'optplace methods --json' and GET /v1/methods"
                )
            tokens = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
            entries.append(
                {
                    "field": ".".join(["options", *(str(p) for p in loc)]),
                    "pointer": "/options" + "".join("/" + t for t in tokens),
                    "loc": loc,
                    "code": code,
                    "message": message,
                }
            )
        shown = "; ".join(f"{e['field']}: {e['message']}" for e in entries[:10])
        more = f" (and {len(entries) - 10} more)" if len(entries) > 10 else ""
        super().__init__(f"invalid options for method {method!r}: {shown}{more}", entries)


class UnknownMethodError(InvalidInputError):
    """No method is registered under the requested name; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = known
        close = get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(f"unknown method {name!r}{hint}; known methods: {', '.join(known)}")


class ProfilesError(InvalidInputError):
    """A profiles document is unreadable, invalid, or does not fit the instance it is merged into."""


class LogFormatError(InvalidInputError):
    """A request log is unreadable; the message names the file, the line and the column to fix."""


class ConversionError(InvalidInputError):
    """An input file does not follow the expected format; the message names the file and line."""


class UnsupportedInstance(InvalidInputError):
    """A method does not handle this objective or instance; the message says why."""


class ChangesError(InvalidInputError):
    """Re-placement changes that do not fit the instance (``optplace.replan``); ``errors`` holds one
    entry per problem, its ``pointer`` into the changes document."""

    def __init__(self, errors: list[dict[str, str]]):
        lines = "\n".join(f"  {e['field'] or '(changes)'}: {e['message']}" for e in errors)
        super().__init__(f"invalid changes\n{lines}", errors)


class PlacementVerificationError(OptplaceError, RuntimeError):
    """A method returned a placement the evaluator rejects: a bug, never a result."""

    def __init__(self, method: str, evaluation: Evaluation):
        self.method = method
        self.evaluation = evaluation
        shown = "; ".join(f"{v.code}: {v.message}" for v in evaluation.violations[:5])
        super().__init__(f"method {method!r} returned an infeasible placement: {shown}")


class PlanVerificationError(OptplaceError, RuntimeError):
    """A re-placement plan failed its replay (``optplace.migration.verify_plan``): a bug, never a result."""


class MissingExtraError(OptplaceError, ImportError):
    """A feature needs an optional dependency that is not installed."""

    def __init__(self, feature: str, extra: str, missing: str):
        self.feature = feature
        self.extra = extra
        self.missing = missing
        super().__init__(
            f"{feature} needs the optional package {missing!r}, which is not installed; "
            f"install it with: pip install 'optplace[{extra}]'",
            name=missing,
        )


class OptplaceWarning(UserWarning):
    """Valid input that is probably not what was meant."""


class ImplausibleUnitsWarning(OptplaceWarning):
    """A number looks like it is in the wrong unit (seconds for ms, GB for MB, per minute for per second)."""


class ObjectiveWarning(OptplaceWarning):
    """The objectives make the empty placement optimal: a solve hosts nothing."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the closest known name, else " (known: ...)"; appended to "unknown ..." messages."""
    known = sorted(set(known))
    close = get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    if not known:
        return " (none is declared)"
    shown = ", ".join(repr(k) for k in known[:10])
    return f" (known: {shown}{', ...' if len(known) > 10 else ''})"
