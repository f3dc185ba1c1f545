"""What every loader returns: the rows it read and the notices about what it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl

from tokenlens.errors import Notice


@dataclass(frozen=True)
class ExportKind:
    """A file format a loader reads, and one line on where a user gets it."""

    source: str
    name: str
    where: str


@dataclass
class Scan:
    """The result of reading one source's files.

    `frame` is in the canonical USAGE schema and already deduplicated by the source's own rule.
    `files` lists every file read, so a store can remember what it has seen.
    """

    source: str
    frame: pl.LazyFrame
    notices: list[Notice] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    # The rows of `frame` in parts, when read so (every copy of an event in one part): each
    # part can be priced and added up on its own.
    parts: list[pl.LazyFrame] = field(default_factory=list)


def epoch_text(text: pl.Expr) -> pl.Expr:
    """Epoch seconds or milliseconds written as digits (`1726000000000`) as a UTC time, else null.

    Nine or ten digits are seconds, twelve or thirteen milliseconds (2001 to 2286 either way).
    """
    digits = text.str.strip_chars()
    number = pl.when(digits.str.contains(r"^\d{9,10}$|^\d{12,13}$")).then(
        digits.str.to_integer(strict=False)
    )
    millis = pl.when(number >= 10**11).then(number).otherwise(number * 1000)
    return pl.from_epoch(millis, time_unit="ms").dt.replace_time_zone("UTC").dt.cast_time_unit("us")


def utc_millis(cell: pl.Expr) -> pl.Expr:
    """A time written `2026-02-16T15:00:48.960Z` exactly (Claude Code and Cursor write them so),
    else null.

    The first 19 characters go through polars' fixed-width parser and the milliseconds are
    added: a quarter of the time of a parse with a fractional-seconds format. A cell in any
    other shape (surrounding spaces included) is null, for a general parse to read.
    """
    seconds = cell.str.slice(0, 19).str.to_datetime(
        "%Y-%m-%dT%H:%M:%S", time_unit="us", time_zone="UTC", strict=False, cache=False
    )
    tail = cell.str.slice(19)
    millis = tail.str.slice(1, 3).cast(pl.Int64, strict=False)
    return pl.when(tail.str.contains(r"^\.[0-9]{3}Z$")).then(
        seconds + pl.duration(milliseconds=millis)
    )


def any_time(cell: pl.Expr) -> pl.Expr:
    """A time in any ISO-8601 spelling (offsets, any fraction, none), or epoch seconds or
    milliseconds, as UTC; else null. The general parse, for cells `utc_millis` leaves null."""
    # Nearly every time in a file is distinct: a cache of parsed strings only costs time.
    exact = cell.str.to_datetime(_ISO_UTC, time_zone="UTC", strict=False, cache=False)
    other = iso_dated(cell).str.to_datetime(time_zone="UTC", strict=False, cache=False)
    return (
        exact.dt.cast_time_unit("us")
        .fill_null(other.dt.cast_time_unit("us"))
        .fill_null(epoch_text(cell))
    )


_ISO_UTC: Final = "%Y-%m-%dT%H:%M:%S%.fZ"


def iso_dated(cell: pl.Expr) -> pl.Expr:
    """Cells that begin with an ISO-8601 date (`2025-10-01...`), else null: what a general time
    parse may read. That parse takes its format from the first cell it sees, so a slash date
    (`10/1/2025`, from a spreadsheet) would be read day-first or month-first by guess, and the
    ISO cells after it not at all."""
    return pl.when(cell.str.contains(r"^\s*\d{4}-\d{2}-\d{2}")).then(cell)


def maybe_repeated(values: pl.Series) -> pl.Series:
    """True where a value's hash occurs more than once: a superset of the repeated values (a
    hash collision only adds a candidate for the exact, slower path; it never names a value).

    The hashes are sorted, so equal ones are neighbours: the common case, nothing repeated, is
    told from one comparison of neighbours, and otherwise only the repeated hashes are looked
    up (a quarter of the time of `is_duplicated` on a million ids).
    """
    hashes = values.hash()
    ordered = hashes.sort()
    same = ordered.slice(1) == ordered.slice(0, max(hashes.len() - 1, 0))
    if not same.any():
        return pl.repeat(False, hashes.len(), eager=True)
    return hashes.is_in(ordered.slice(1).filter(same).unique().implode())
