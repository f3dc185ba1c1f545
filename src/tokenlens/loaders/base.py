"""What every loader returns: the rows it read and the notices about what it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
