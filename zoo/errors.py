"""User-facing errors. Each carries enough location to fix the input without a traceback.

Programming errors stay ordinary exceptions; everything a user can cause by a spec, a recipe, a name
or a file raises a subclass of :class:`ZooError`, which the CLI prints as a short message (exit 2).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Sequence


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most similar to ``name``, best first (may be empty)."""
    pool = sorted({str(c) for c in candidates})
    return difflib.get_close_matches(str(name), pool, n=n, cutoff=0.6)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'?"`` for the closest candidate, or an empty string."""
    match = closest(name, candidates, n=1)
    return f"did you mean '{match[0]}'?" if match else ""


@dataclass(frozen=True)
class Mark:
    """Where a value came from: a file (or ``<command line>``), 1-based line and column."""

    source: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}" if self.line else self.source


@dataclass
class SpecIssue:
    """One problem in a spec: where, which field, what, and a hint."""

    path: str
    message: str
    mark: Mark | None = None
    hint: str = ""

    def format(self) -> str:
        where = str(self.mark) if self.mark else "<spec>"
        text = f"{where}  {self.path or '<root>'}  {self.message}"
        return f"{text}  ({self.hint})" if self.hint else text


class ZooError(Exception):
    """Base of every error a user can cause. The CLI prints ``str(error)`` and exits 2."""


class SpecError(ZooError):
    """One or more problems in a spec or recipe, all reported at once."""

    def __init__(self, issues: Sequence[SpecIssue], title: str = ""):
        self.issues = list(issues)
        self.title = title
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.issues)
        head = self.title or f"{n} error{'s' if n != 1 else ''} in spec"
        return "\n".join([head + ":"] + ["  " + issue.format() for issue in self.issues])


class UnknownNameError(ZooError, KeyError):
    """A registry or preset lookup missed; carries the closest names and all valid ones."""

    def __init__(self, what: str, name: str, valid: Iterable[str]):
        self.what, self.name = what, name
        self.valid = sorted(valid)
        self.suggestions = closest(name, self.valid)
        hint = f" Did you mean {', '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        listing = ", ".join(self.valid) if self.valid else "(none registered)"
        self.message = f"unknown {what} '{name}'.{hint} Valid: {listing}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class RegistryError(ZooError):
    """Registration conflicts (a duplicate name) and malformed entries."""


class WeightsError(ZooError):
    """A weights file that cannot be fetched, fails its checksum, or does not fit the model."""


class OfflineError(WeightsError):
    """A remote resource was requested while the offline switch is on."""
