"""What every loader checks in a row, and how it reports what it skipped.

A row is dropped, never summed, when a token count is negative, not a whole number, or absurd:
more than one call or one report row can hold. Each skipped row is counted under its reason, its
file and, where the format has lines, its line number.

Polars-free: the Claude Code reader uses it before polars loads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from tokenlens.errors import Notice

# One API call (or one turn of an agent) never holds more tokens than this: 1,000 times the
# largest context window. Applies to per-call logs (Claude Code, Codex, Gemini, Cursor events).
MAX_CALL_TOKENS: Final = 10**9
# One row of an organization report (a day of a model, an API key, a user) never holds more.
MAX_ROW_TOKENS: Final = 10**12
# Line numbers shown per file in a warning; the count still covers every line.
LINES_SHOWN: Final = 5

NEGATIVE: Final = "a negative token count"
NOT_WHOLE: Final = "a token count that is not a whole number"
NOT_NUMBER: Final = "a token count that is not a number"
NOT_FINITE: Final = "a NaN or Infinity token count"


def too_large(limit: int) -> str:
    return f"an absurd token count (over {limit:,})"


def token_problem(value: object, limit: int) -> str | None:
    """Why a token count cannot be used, or None when it can (None itself is "not reported")."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NOT_NUMBER
    if not math.isfinite(value):
        return NOT_FINITE
    if value < 0:
        return NEGATIVE
    if value != int(value):
        return NOT_WHOLE
    if value > limit:
        return too_large(limit)
    return None


def first_token_problem(values: Iterable[object], limit: int) -> str | None:
    """`token_problem` of the first of several counts that has one, or None."""
    return next((p for p in (token_problem(v, limit) for v in values) if p), None)


def located(path: str, lines: Iterable[int] = (), more: bool = False) -> str:
    """`file`, `file:3`, or `file:3,7,12` (`,...` when more lines were left out)."""
    shown = ",".join(str(n) for n in lines)
    if not shown:
        return path
    return f"{path}:{shown}" + (",..." if more else "")


@dataclass
class _Entry:
    count: int = 0
    lines: list[int] = field(default_factory=list)


class Tally:
    """Counted problems, one notice per reason and file, in the order they were first seen."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._entries: dict[tuple[str, str | None], _Entry] = {}

    def add(
        self, reason: str, path: str | None = None, line: int | None = None, count: int = 1
    ) -> None:
        entry = self._entries.setdefault((reason, path), _Entry())
        entry.count += count
        if line is not None:
            entry.lines.append(line)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def notices(self) -> list[Notice]:
        out = []
        for (reason, path), entry in self._entries.items():
            lines = sorted(set(entry.lines))
            where = None
            if path is not None:
                where = located(path, lines[:LINES_SHOWN], more=len(lines) > LINES_SHOWN)
            out.append(Notice(f"{self._prefix}{reason}", entry.count, where))
        return out


# Rows dated before this are kept but said to be suspect: no assistant logged tokens earlier.
EARLIEST: Final = datetime(2020, 1, 1, tzinfo=UTC)
