"""Cursor: dashboard usage CSV exports and Admin API JSON (FORMATS.md section 2).

Dashboard CSV (header variants A-G of FORMATS.md section 2a). Columns are matched by header name,
never by position. Every row is one event: errored, aborted, free and zero-token rows included.

- The four token columns are disjoint: "Input (w/ Cache Write)" is the cache write, "Input (w/o
  Cache Write)" the uncached input, "Cache Read" and "Output" the rest.
- Variant A (the old "usage-details" export) has one `Tokens` column, a total that cannot be split.
  It goes into `input_tokens` with the other three token columns null, so `total_tokens()` stays
  right; the split is unknown (a Notice says so). The "usage-tokens" export B holds the same
  events with the split, and B wins wherever both are loaded (see "Copies across export shapes").
- Variant G (one aggregated row per model, no Date) is refused with an InputError: its rows have no
  time, and they repeat events that the per-event export already counts.
- Cost: `Included`, `-`, `Free` and empty mean "no reported cost" (null); a number, with or
  without `$`, is dollars and is taken as shown for every kind (some `Errored, No Charge` rows carry
  a cost). Requests: a number is request units; `-` (errored) and `Free` are 0 units; an empty cell
  is unknown (null). Files without a Requests column count 1 request per row.
- User: the `User` column (team exports); "You" (individual exports) and files without the column
  get the `user` argument; "N/A" or empty (automation runs) becomes `automation:<Automation ID>`, or
  stays "N/A" when there is no id.

Identity. `event_id` is a readable string of every identity column, `|`-separated:
`<shape>|<Date>|<user>|<Cloud Agent ID>|<Automation ID>|<Kind>|<Model>|<Max Mode>|<tokens>`, where
tokens is `cache_write/input/cache_read/output` (or `total:N` for variant A) and absent columns are
empty. Cost and Requests are not part of it. Downloads overlap, so the same row in two files is one
event; a numeric Cost beats `Included` or blank, and between two numbers the copy whose file is
newer (`as_of`, the newest Date in its file) wins. Identical rows inside one file are one event as
well: in the real exports no two rows of a file share even a Date (millisecond timestamps), so a
repeated row is a repeated record, not a second call; a Notice counts them.

Copies across export shapes. The same event appears in exports of different shapes, with different
labels: the old "usage-details" (A) and "usage-tokens" (B) exports hold the same events, and the
10-column export (C) of 2025-08-31 repeats 92 events of the usage-tokens file of 2025-08-30 with
Kind "Included" where B says "Included in Pro". So `<shape>` ranks the copies (details < tokens <
events < api), and a copy is dropped when a higher-ranked copy has the same Date, user, model and
token total. API events outrank the CSV because they carry exact cents.

Admin API. `filtered-usage-events` pages (one JSON document, an array of pages, or one page per
line): one event per `usageEvents[]` item, with the CSV's id layout under shape `api` (the epoch-ms
`timestamp` written as the CSV writes Date, `maxMode` as Yes/No); user `userEmail`, else the service
account, else `automation:<automationId>`; tokens from `tokenUsage`, which the API sends only for
token-based calls (null otherwise; its four counts are read as disjoint, like the CSV columns);
`chargedCents` / 100 as the reported cost (else `tokenUsage.totalCents` / 100); `requestsCosts` as
requests (null when absent). `daily-usage-data`: one row per user and day at 00:00 UTC, id
`daily|<day>|<user>`; `acceptedLinesAdded` / `acceptedLinesDeleted` (AI-suggested lines the user
accepted) become lines_added / lines_removed; tokens and model are null (the rows have none), and
requests are null because the `*Requests`/`*Reqs` fields count raw events that the usage events
already count as billable units. A later download of the same day wins (`as_of`, its newest day).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import msgspec
import polars as pl

from tokenlens import schema
from tokenlens.errors import InputError, Notice
from tokenlens.loaders import checks, detect
from tokenlens.loaders import files as rawfiles
from tokenlens.loaders.base import (
    ExportKind,
    Scan,
    any_time,
    maybe_repeated,
    utc_millis,
)
from tokenlens.loaders.checks import Tally

__all__ = ["EXPORTS", "SOURCE", "SOURCES", "dedupe", "scan"]

SOURCE: Final = "cursor"
SOURCES: Final = (SOURCE,)
EXPORTS: Final = (
    ExportKind(
        SOURCE,
        "Cursor usage CSV",
        "cursor.com/dashboard → Usage → Export CSV (team admins: the team dashboard's Usage tab)",
    ),
    ExportKind(
        SOURCE,
        "Cursor Admin API usage events (JSON)",
        "POST api.cursor.com/teams/filtered-usage-events with a team admin API key; save each page",
    ),
    ExportKind(
        SOURCE,
        "Cursor Admin API daily usage (JSON)",
        "POST api.cursor.com/teams/daily-usage-data (30 days at most) with an admin API key",
    ),
)

# raw column <- header spellings seen in real exports (compared case- and space-insensitively)
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "date": ("Date",),
    "user": ("User",),
    "cloud_agent_id": ("Cloud Agent ID",),
    "automation_id": ("Automation ID",),
    "kind": ("Kind",),
    "model": ("Model",),
    "max_mode": ("Max Mode",),
    "cache_write_tokens": ("Input (w/ Cache Write)",),
    "input_tokens": ("Input (w/o Cache Write)",),
    "cache_read_tokens": ("Cache Read",),
    "output_tokens": ("Output Tokens", "Output"),
    "total_tokens": ("Total Tokens",),
    "tokens": ("Tokens",),  # variant A: a total only
    "reported_cost_usd": ("Cost", "Cost ($)"),  # "Included", "-", "Free", "" become null
    "requests": ("Requests",),  # "-" and "Free" are 0 units
    "request_count": ("Request Count",),  # variant G: aggregated per model (refused)
}
# the token columns in event-id order (the order of the CSV header)
_SPLIT: Final = ("cache_write_tokens", "input_tokens", "cache_read_tokens", "output_tokens")
_NO_COST: Final = ("", "included", "-", "free")
_ZERO_REQUESTS: Final = ("-", "free")
_YOU: Final = "you"
_NO_USER: Final = ("", "n/a")
_ID_DATE: Final = "%Y-%m-%dT%H:%M:%S%.3fZ"

# Export shapes, lowest rank first: a copy loses to a higher-ranked copy of the same event.
_RANK: Final[dict[str, int]] = {"details": 0, "tokens": 1, "events": 2, "api": 3}
_DAILY: Final = "daily"
_DAILY_KIND: Final = "daily usage"

# raw columns every reader produces before conform()
_RAW_TEXT: Final = ("user", "cloud_agent_id", "automation_id", "kind", "model", "max_mode")


def scan(files: list[Path], *, user: str) -> Scan:
    """Read Cursor CSV and Admin API files into canonical rows, deduplicated by `dedupe`."""
    paths = sorted(set(files))
    frames: list[pl.DataFrame] = []
    notices: list[Notice] = []
    shapes: set[str] = set()
    for path in paths:
        frame, found, shape = _read(path, user=user)
        frames.append(frame)
        notices.extend(found)
        shapes.add(shape)
    rows = pl.concat(frames) if frames else schema.empty()
    marks = maybe_repeated(rows.get_column("event_id"))
    across = len(shapes & _RANK.keys()) > 1  # copies across shapes need more than one shape
    if not (across or marks.any()):
        out = rows  # no id repeats and one export shape: the dedupe would keep every row
    else:
        rows = rows.with_columns(_maybe=marks)
        maybe = rows.filter(pl.col("_maybe")).select("event_id", "origin")
        repeated = maybe.height - maybe.n_unique()
        if repeated:
            message = "Cursor: rows repeating an identical row in one file counted once"
            notices.append(Notice(message, repeated))
        # The sort behind the dedupe runs about 3x faster on the in-memory engine.
        out = _dedupe(rows.lazy(), across_shapes=across).collect(engine="in-memory")
    if "details" in shapes:
        total_only = out.select(pl.col("event_id").str.starts_with("details|").sum()).item()
        if total_only:
            message = (
                "Cursor: old usage-details rows give only a token total, kept in input_tokens "
                "(split unknown; load the matching usage-tokens export to split them)"
            )
            notices.append(Notice(message, total_only))
    return Scan(SOURCE, out.lazy(), notices, paths)


def _maybe_repeated() -> pl.Expr:
    """Rows whose event id may occur more than once: a superset, found by hash.

    The hash only routes rows: a collision sends a unique row through the exact (slower) path,
    which changes nothing. It never names an event.
    """
    return pl.col("event_id").hash().is_duplicated()


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The Cursor identity rule over canonical rows; independent of row order, idempotent.

    Copies with one `event_id` collapse to one: a reported cost beats none, then the newer file
    (`as_of`), then the larger cost and request count, then every other column except the
    derived prices, larger first, then the smaller origin (a total order). Then a copy from a
    lower-ranked export shape is dropped when a higher-ranked copy has the same time, user, model
    and token total (A/B/C and API overlaps).
    """
    return _dedupe(lf, across_shapes=True)


def _dedupe(lf: pl.LazyFrame, *, across_shapes: bool) -> pl.LazyFrame:
    """`dedupe`; `scan` skips the second step when it read a single export shape.

    Reuses a `_maybe` column (`base.maybe_repeated`) when the caller computed it already.
    """
    names = lf.collect_schema().names()
    keys = [
        pl.col("reported_cost_usd").is_null(),
        pl.col("as_of"),
        pl.col("reported_cost_usd"),
        pl.col("requests"),
    ]
    descending = [False, True, True, True]
    # Prices are derived from the other columns, and may come from another price version.
    derived = {"computed_cost_usd", "price_version"}
    used = {"event_id", "reported_cost_usd", "as_of", "requests", "origin", "_maybe", *derived}
    rest = [pl.col(c) for c in names if c not in used]
    rest.append(pl.col("origin"))
    marked = lf if "_maybe" in names else lf.with_columns(_maybe=_maybe_repeated())
    best = (
        marked.filter(pl.col("_maybe"))
        .sort(
            [pl.col("event_id"), *keys, *rest],
            # the rest high first: of two same-day copies, the larger counts are the later one;
            # the origin (a file name) only breaks the last ties, smaller first
            descending=[False, *descending, *([True] * (len(rest) - 1)), False],
            nulls_last=True,
        )
        .unique(subset=["event_id"], keep="first", maintain_order=True)
    )
    out = pl.concat([marked.filter(~pl.col("_maybe")), best]).drop("_maybe")
    if not across_shapes:
        return out
    loose = ["ts", "user", "model", "_total"]
    return (
        out.with_columns(_rank=_rank(), _total=schema.total_tokens())
        .filter(pl.col("_rank").is_null() | (pl.col("_rank") == pl.col("_rank").max().over(loose)))
        .drop("_rank", "_total")
    )


def _rank() -> pl.Expr:
    """The rank of the export shape named at the start of an event id (null: not ranked)."""
    rank: pl.Expr = pl.lit(None, pl.Int8)
    for shape, value in _RANK.items():
        rank = pl.when(pl.col("event_id").str.starts_with(f"{shape}|")).then(value).otherwise(rank)
    return rank.cast(pl.Int8)


# --------------------------------------------------------------------------- dispatch


def _read(path: Path, *, user: str) -> tuple[pl.DataFrame, list[Notice], str]:
    """One file, by its sniffed format; CSV is the fallback (its header is checked there)."""
    try:
        head = detect.read_head(path)
    except rawfiles.READ_ERRORS as exc:
        raise rawfiles.cannot_read(path, exc) from exc
    if rawfiles.is_archive(head):
        raise rawfiles.archive_error(path)
    fmt = detect.sniff(head, rawfiles.plain_name(path))
    if fmt == "cursor_api_events":
        return (*_read_events(path, user=user), "api")
    if fmt == "cursor_daily":
        return (*_read_daily(path, user=user), _DAILY)
    if head.lstrip()[:1] in (b"{", b"["):
        raise InputError(
            f"{path}: not a Cursor export (JSON without usageEvents or daily usage rows)",
            hint="Give the JSON saved from the Admin API's filtered-usage-events or "
            "daily-usage-data endpoints.",
        )
    return _read_csv(path, user=user)


# --------------------------------------------------------------------------- dashboard CSV


def _norm(header: str) -> str:
    return " ".join(header.split()).casefold()


_SPELLINGS: Final = {_norm(s): raw for raw, spellings in _COLUMNS.items() for s in spellings}


def _match_headers(header: Iterable[str]) -> dict[str, str]:
    """raw column -> the header as the file spells it (the first match wins)."""
    found: dict[str, str] = {}
    for name in header:
        raw = _SPELLINGS.get(_norm(name))
        if raw is not None and raw not in found:
            found[raw] = name
    return found


_CSV_OPTIONS: Final[dict[str, Any]] = {
    "infer_schema": False,  # every column as text; typed below by header name
    "quote_char": '"',
    "truncate_ragged_lines": True,  # a shifted row fails its typed casts and is counted there
}


def _read_csv(path: Path, *, user: str) -> tuple[pl.DataFrame, list[Notice], str]:
    """A dashboard export: every column read as text, then typed by header name, in one pass.

    Blank lines are passed over; a file of a header and no rows holds no events (said so).
    """
    text, dropped, repaired = _read_text(path)
    names = [c for c in text.columns if c != _ROW]
    present = set(names)
    shape = _csv_shape(present)
    early: list[Notice] = []
    if dropped:
        early.append(Notice("Cursor: skipped a cut-off last line", 1, str(path)))
    if repaired:
        early.extend(_repaired(text, path))

    rows_in_file = text.height
    types = text.schema
    blank = pl.all_horizontal(pl.col(f"_t_{c}").is_null() for c in names)
    # Dates as Cursor writes them are parsed here, beside the other cells' trimming: one core
    # parses while the other trims. (`_check_header` made sure there is a Date column.)
    stripped = (
        text.lazy()
        .select(
            pl.col(_ROW),
            *(_strip(c, types[c]).alias(f"_t_{c}") for c in names),
            utc_millis(pl.col("date")).alias("ts"),  # untrimmed: other shapes are null there
        )
        .filter(~blank)
        .collect()
    )
    del text  # its memory is reused by what follows, rather than fresh pages

    # Dates as Cursor writes them are the id's spelling: reformatting them is skipped. A file
    # with any other spelling is parsed again, every ISO-8601 spelling included.
    as_written = stripped.get_column("ts").null_count() == stripped["_t_date"].null_count()
    typed = stripped.lazy()
    for stage in _typed(present, shape, user=user, other_dates=not as_written):
        typed = typed.with_columns(stage)
    typed = typed.with_columns(
        _bad=pl.col("ts").is_null() | pl.col("_bad_tokens"), origin=pl.lit(str(path))
    )
    date = pl.col("_t_date") if as_written else None
    frame = _identify(typed, shape, valid=~pl.col("_bad"), date=date).collect()
    cells = ["tokens"] if shape == "details" else list(_SPLIT)
    rows, notices = _finish(frame, path, [f"_t_{c}" for c in cells if c in present])
    if rows_in_file == 0:
        notices.append(Notice("Cursor: the file holds a header and no rows", None, str(path)))
    return rows, [*early, *notices], shape


_ROW: Final = "_row"  # a row's index among the data rows of its file, for line numbers


def _read_text(path: Path) -> tuple[pl.DataFrame, bool, bool]:
    """The known columns as text under their raw names (plus `_ROW`), whether a cut-off last line
    was dropped, and whether invalid UTF-8 was replaced.

    Invalid UTF-8 is replaced, not fatal. A last line cut off inside a quoted cell (a download
    that stopped early) is dropped and reported; any other parse failure rejects the file.
    A compressed or UTF-16 file is read into memory first; a plain one is read by polars.
    """
    try:
        source: Path | bytes = path if rawfiles.is_plain(path) else rawfiles.read_bytes(path)
    except rawfiles.READ_ERRORS as exc:
        raise rawfiles.cannot_read(path, exc) from exc
    options = {**_CSV_OPTIONS, "row_index_name": _ROW}
    try:
        header = pl.read_csv(source, n_rows=0, encoding="utf8-lossy", **_CSV_OPTIONS).columns
        found = _match_headers(header)
        _check_header(path, found, header)
        columns = list(found.values())
        dropped = repaired = False
        text = _read_counts(source, columns, found, options)
        try:
            if text is None:
                text = pl.read_csv(source, columns=columns, **options)
        except pl.exceptions.ComputeError:  # invalid UTF-8, or a cut-off last line
            try:
                text = pl.read_csv(source, columns=columns, encoding="utf8-lossy", **options)
                repaired = True
            except pl.exceptions.ComputeError:
                data = source if isinstance(source, bytes) else rawfiles.read_bytes(path)
                whole = data[: data.rstrip(b"\r\n").rfind(b"\n") + 1]
                text = pl.read_csv(whole, columns=columns, encoding="utf8-lossy", **options)
                dropped = True
                repaired = b"\xef\xbf\xbd" in whole or _invalid_utf8(whole)
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{path}: not a readable CSV ({first})",
            hint="Download the usage CSV again from the Cursor dashboard.",
        ) from exc
    return text.rename({name: col for col, name in found.items()}), dropped, repaired


def _read_counts(
    source: Path | bytes, columns: list[str], found: dict[str, str], options: dict[str, Any]
) -> pl.DataFrame | None:
    """The file with its token counts parsed as integers while reading, when every cell allows
    it (what the text path would make of them: see `_strip`); None sends it to the text path.

    Only a file that ends with a line break is tried: a download cut off inside a quoted count
    cell may otherwise parse, or even crash the reader, where the text path drops the cut-off
    line and says so.
    """
    if not rawfiles.ends_with_line_break(source):
        return None
    counts = {found[c]: pl.Int64() for c in _COUNT_COLUMNS if c in found}
    try:
        return pl.read_csv(source, columns=columns, schema_overrides=counts, **options)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # a parse failure, or a panic inside the reader: the text path decides
        return None


def _invalid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _repaired(text: pl.DataFrame, path: Path) -> list[Notice]:
    """Rows whose text held invalid UTF-8 (now U+FFFD), named by line."""
    cells = [pl.col(c).str.contains("\ufffd", literal=True) for c in text.columns if c != _ROW]
    rows = text.filter(pl.any_horizontal(cells)).get_column(_ROW).to_list() if cells else []
    if not rows:
        return []
    tally = Tally("Cursor: ")
    for line in rawfiles.csv_row_lines(rawfiles.read_bytes(path), rows):
        tally.add("read rows holding invalid UTF-8 (bad bytes replaced)", str(path), line)
    return tally.notices()


# What the dashboard export always has (columns are matched by name, so order is free).
_TOKEN_HEADERS: Final = {c: _COLUMNS[c][0] for c in _SPLIT}


def _check_header(path: Path, found: dict[str, str], header: list[str]) -> None:
    """Refuse a header that lacks a column every Cursor usage export has.

    A missing token column would silently drop part of every row's tokens, so it is an error
    naming the column, and the columns that were not recognized (a rename shows up there).
    """
    if "date" in found:
        split = [c for c in _SPLIT if c in found]
        missing = [] if "model" in found else ["Model"]
        if split and len(split) < len(_SPLIT):
            missing += [_TOKEN_HEADERS[c] for c in _SPLIT if c not in found]
        elif not split and "tokens" not in found:
            missing.append("the token columns (Tokens, or Input/Cache Read/Output)")
        if not missing:
            return
        known = set(found.values())
        unknown = [name for name in header if name not in known]
        raise InputError(
            f"{path}: a Cursor usage CSV without the column"
            + ("s " if len(missing) > 1 else " ")
            + ", ".join(repr(m) for m in missing)
            + (f"; columns not recognized: {', '.join(map(repr, unknown))}" if unknown else ""),
            hint="Cursor's export has Date, Model and Input (w/ Cache Write), Input (w/o Cache "
            "Write), Cache Read, Output Tokens; restore the header or download it again.",
        )
    if "model" in found and ("request_count" in found or "reported_cost_usd" in found):
        raise InputError(
            f"{path}: an aggregated Cursor export (one row per model, no Date column); its usage "
            "cannot be placed in time and repeats what the per-event export holds",
            hint="Download the per-event CSV instead: cursor.com/dashboard → Usage → Export CSV.",
        )
    raise InputError(
        f"{path}: not a Cursor usage CSV (no Date column)",
        hint="Give the CSV from cursor.com/dashboard → Usage → Export CSV.",
    )


def _csv_shape(present: set[str]) -> str:
    """details (total only), tokens (split, no Max Mode) or events (split with Max Mode)."""
    split = any(c in present for c in _SPLIT)
    if "tokens" in present and not split:
        return "details"
    if split and "max_mode" not in present:
        return "tokens"
    return "events"


# Columns holding token counts (read as integers when the whole file allows it).
_COUNT_COLUMNS: Final = (*_SPLIT, "total_tokens", "tokens")


def _strip(col: str, dtype: pl.DataType) -> pl.Expr:
    """Cell text without surrounding spaces; a blank cell is null.

    A column the CSV reader parsed as integers is taken as it is: the reader gives a number
    only where the text path would give the same one (a leading space is skipped, a blank cell
    is null), and refuses the file otherwise.
    """
    if dtype != pl.String():
        return pl.col(col)
    return pl.col(col).str.strip_chars().replace("", None)


def _typed(present: set[str], shape: str, *, user: str, other_dates: bool) -> list[list[pl.Expr]]:
    """Canonical values and `_bad_*` flags from the stripped `_t_*` text columns, in two stages.

    The first stage parses each cell once into `_p_*` columns; the second derives values and
    flags from those (a parse repeated inside several expressions would run once per use).
    `ts` holds the dates parsed as Cursor writes them; with `other_dates` they are parsed again,
    other spellings included.
    """

    def text(col: str) -> pl.Expr:
        return pl.col(f"_t_{col}") if col in present else pl.lit(None, pl.String)

    token_source = {c: c for c in _SPLIT} if shape != "details" else {"input_tokens": "tokens"}
    has_total = "total_tokens" in present and shape != "details"
    parsed = [
        *(
            text(src).cast(pl.Int64, strict=False).alias(f"_p_{c}")
            for c, src in token_source.items()
        ),
        *([any_time(text("date")).alias("ts")] if other_dates else []),
        *_money_parts(text("reported_cost_usd"), "_p_cost"),
    ]
    if has_total:
        parsed.append(text("total_tokens").cast(pl.Int64, strict=False).alias("_p_total"))
    if "user" in present:
        parsed.append(text("user").str.to_lowercase().alias("_p_user"))
    if "requests" in present:
        parsed.extend(_units_parts(text("requests"), "_p_requests"))

    tokens = {c: pl.col(f"_p_{c}") for c in token_source}
    cells = [text(src).is_not_null() for src in token_source.values() if src in present]
    unreadable = [
        text(src).is_not_null() & ~tokens[c].is_between(0, checks.MAX_CALL_TOKENS).fill_null(False)
        for c, src in token_source.items()
        if src in present
    ]
    if len(cells) > 1:  # rows fill all token cells or none ("Free"); some is a short row
        filled = pl.sum_horizontal(cells)
        unreadable.append((filled > 0) & (filled < len(cells)))
    derived = [
        _user(text, "user" in present, user=user).alias("user"),
        *(text(c).alias(c) for c in _RAW_TEXT if c != "user"),
        *(tokens.get(c, pl.lit(None, pl.Int64)).alias(c) for c in _SPLIT),
        pl.any_horizontal(unreadable or [pl.lit(False)]).alias("_bad_tokens"),
    ]
    if has_total:
        parts = pl.sum_horizontal([tokens[c].fill_null(0) for c in _SPLIT])
        total = pl.col("_p_total")
        derived.append((total.is_not_null() & (total != parts)).alias("_bad_total"))
    else:
        derived.append(pl.lit(False).alias("_bad_total"))
    cost, bad_cost = _money("_p_cost")
    derived += [cost.alias("reported_cost_usd"), bad_cost.alias("_bad_cost")]
    if "requests" in present:
        requests, bad_requests = _units(text("requests"), "_p_requests")
    else:
        requests, bad_requests = pl.lit(1.0), pl.lit(False)
    derived += [requests.alias("requests"), bad_requests.alias("_bad_requests")]
    return [parsed, derived]


def _user(text: Callable[[str], pl.Expr], has_column: bool, *, user: str) -> pl.Expr:
    """Team exports name the user; "You" and individual exports are the `user` argument.

    Reads the lower-cased cell from `_p_user` (see `_typed`).
    """
    if not has_column:
        return pl.lit(user)
    cell = text("user")
    lowered = pl.col("_p_user")
    automation = pl.lit("automation:") + text("automation_id")
    return (
        pl.when(lowered == _YOU)
        .then(pl.lit(user))
        .when(cell.is_null() | lowered.is_in(_NO_USER))
        .then(automation.fill_null(pl.lit("N/A")))
        .otherwise(cell)
    )


def _money_parts(cell: pl.Expr, name: str) -> list[pl.Expr]:
    """Dollars with or without `$` (`{name}`), and whether the cell is a no-cost label."""
    label = cell.is_null() | cell.str.to_lowercase().is_in(_NO_COST)
    digits = cell.str.replace("$", "", literal=True).str.strip_chars()
    return [digits.cast(pl.Float64, strict=False).alias(name), label.alias(f"{name}_label")]


def _money(name: str) -> tuple[pl.Expr, pl.Expr]:
    """The cost from `_money_parts`: null for the no-cost labels. Also: unreadable cells."""
    number, label = pl.col(name), pl.col(f"{name}_label")
    ok = number.is_finite().fill_null(False)
    return pl.when(~label & ok).then(number), ~label & ~ok


def _units_parts(cell: pl.Expr, name: str) -> list[pl.Expr]:
    """Request units as a number (`{name}`), and whether the cell is a zero label."""
    zero = cell.str.to_lowercase().is_in(_ZERO_REQUESTS)
    return [cell.cast(pl.Float64, strict=False).alias(name), zero.alias(f"{name}_zero")]


def _units(cell: pl.Expr, name: str) -> tuple[pl.Expr, pl.Expr]:
    """Request units from `_units_parts`: `-` and `Free` are 0; empty is unknown. Also:
    unreadable cells."""
    number, zero = pl.col(name), pl.col(f"{name}_zero")
    ok = number.is_finite().fill_null(False)
    value = pl.when(zero).then(pl.lit(0.0)).when(ok).then(number)
    return value, cell.is_not_null() & ~zero & ~ok


def _finish(
    frame: pl.DataFrame, path: Path, token_cells: list[str]
) -> tuple[pl.DataFrame, list[Notice]]:
    """Count what was unreadable, drop unreadable rows (named by reason and line), conform."""
    kept = ~pl.col("_bad")  # the other counts are about rows that stay
    counts = frame.select(
        rows=pl.col("_bad").sum(),
        total=(pl.col("_bad_total") & kept).sum(),
        cost=(pl.col("_bad_cost") & kept).sum(),
        requests=(pl.col("_bad_requests") & kept).sum(),
    ).row(0, named=True)
    where = str(path)
    notices = []
    if counts["rows"]:
        notices.extend(_skipped(frame.filter(pl.col("_bad")), path, token_cells))
    if counts["total"]:
        message = "Cursor: Total Tokens differs from the sum of the four token columns (used)"
        notices.append(Notice(message, counts["total"], where))
    if counts["cost"]:
        labels = frame.filter(pl.col("_bad_cost") & kept).get_column("_t_reported_cost_usd")
        shown = ", ".join(labels.unique().sort().head(3).to_list())
        message = f"Cursor: Cost cells not understood, read as no cost ({shown})"
        notices.append(Notice(message, counts["cost"], where))
    if counts["requests"]:
        message = "Cursor: Requests cells not understood, read as unknown"
        notices.append(Notice(message, counts["requests"], where))
    good = frame.lazy().filter(~pl.col("_bad")) if counts["rows"] else frame.lazy()
    return schema.conform(good).collect(), notices


def _skipped(bad: pl.DataFrame, path: Path, token_cells: list[str]) -> list[Notice]:
    """One notice per reason a row was skipped, naming its lines (a slow path: bad rows only)."""
    reasons = []
    for row in bad.select("ts", *token_cells).iter_rows():
        if row[0] is None:
            reasons.append("an unreadable Date")
            continue
        cells = [c for c in row[1:] if c is not None]
        if len(cells) < len(token_cells):
            reasons.append("some token cells empty (a short or shifted row)")
            continue
        found = (checks.token_problem(_as_number(c), checks.MAX_CALL_TOKENS) for c in cells)
        reasons.append(next((r for r in found if r), checks.NOT_NUMBER))
    lines = rawfiles.csv_row_lines(rawfiles.read_bytes(path), bad.get_column(_ROW).to_list())
    tally = Tally("Cursor: skipped rows with ")
    for reason, line in zip(reasons, lines, strict=True):
        tally.add(reason, str(path), line)
    return tally.notices()


def _as_number(cell: str) -> object:
    """A token cell as a number when it is one (NaN and Infinity included), else the text."""
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell


def _identify(
    lf: pl.LazyFrame, shape: str, *, valid: pl.Expr, date: pl.Expr | None = None
) -> pl.LazyFrame:
    """The readable event id, `as_of` (the newest valid time in the file) and the source.

    `date` is the id's date text when the caller has it already in `_ID_DATE` form.
    """
    if shape == "details":
        tokens = pl.lit("total:") + pl.col("input_tokens").cast(pl.String).fill_null("")
    else:
        tokens = pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") for c in _SPLIT], separator="/"
        )
    parts = [
        pl.lit(shape),
        pl.col("ts").dt.strftime(_ID_DATE) if date is None else date,
        pl.col("user"),
        pl.col("cloud_agent_id"),
        pl.col("automation_id"),
        pl.col("kind"),
        pl.col("model"),
        pl.col("max_mode"),
        tokens,
    ]
    return lf.with_columns(
        event_id=pl.concat_str([p.fill_null("") for p in parts], separator="|"),
        as_of=pl.col("ts").filter(valid).max(),
        source=pl.lit(SOURCE),
    )


# --------------------------------------------------------------------------- Admin API JSON


class _TokenUsage(msgspec.Struct, rename="camel"):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_read_tokens: int | None = None
    total_cents: float | None = None


class _Event(msgspec.Struct, rename="camel"):
    timestamp: str | int
    user_email: str | None = None
    service_account_name: str | None = None
    service_account_id: str | None = None
    cloud_agent_id: str | None = None
    automation_id: str | None = None
    model: str | None = None
    kind: str | None = None
    max_mode: bool | None = None
    requests_costs: float | None = None
    token_usage: _TokenUsage | None = None
    charged_cents: float | None = None


class _Day(msgspec.Struct, rename="camel"):
    email: str | None = None
    user_id: str | int | None = None
    day: str | None = None
    date: int | str | None = None
    accepted_lines_added: int | None = None
    accepted_lines_deleted: int | None = None


def _load_json(path: Path) -> tuple[list[Any], list[Notice]]:
    """Top-level JSON values of a file (one document, or one per line: saved pages), and notices
    of the lines that could not be read."""
    docs = rawfiles.json_documents(path, rawfiles.read_bytes(path))
    tally = Tally("Cursor: ")
    for line in docs.bad_lines:
        tally.add("skipped lines that are not valid JSON", str(path), line)
    if docs.repaired:
        tally.add("read a file holding invalid UTF-8 (bad bytes replaced)", str(path))
    return docs.values, tally.notices()


def _items(values: Sequence[Any], key: str, marker: str) -> list[Any]:
    """Rows under `key` in each page; a bare row (holding `marker`) is taken as it is."""
    out: list[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(_items(value, key, marker))
        elif isinstance(value, dict) and isinstance(value.get(key), list):
            out.extend(value[key])
        elif isinstance(value, dict) and marker in value:
            out.append(value)
    return out


# Epoch milliseconds a timestamp may hold: 1970 up to the year 5138.
_MAX_MS: Final = 10**14


def _epoch_ms(value: str | int) -> int | None:
    if isinstance(value, int):
        return value if 0 <= value < _MAX_MS else None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return _epoch_ms(int(text)) if len(text) < 16 else None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return _epoch_ms(int(moment.timestamp() * 1000))
    except (OverflowError, OSError, ValueError):
        return None


def _api_user(event: _Event, user: str) -> str:
    """The event's own user: email, else service account, else automation, else `user`."""
    for name in (event.user_email, event.service_account_name, event.service_account_id):
        if name:
            return name
    if event.automation_id:
        return f"automation:{event.automation_id}"
    return user


_EVENT_COLUMNS: Final[dict[str, pl.DataType]] = {
    "_ms": pl.Int64(),
    "user": pl.String(),
    "cloud_agent_id": pl.String(),
    "automation_id": pl.String(),
    "kind": pl.String(),
    "model": pl.String(),
    "max_mode": pl.String(),
    "cache_write_tokens": pl.Int64(),
    "input_tokens": pl.Int64(),
    "cache_read_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "requests": pl.Float64(),
    "reported_cost_usd": pl.Float64(),
}


_MALFORMED_EVENT: Final = "skipped malformed usage events"


def _event_row(item: Any, user: str) -> tuple[Any, ...] | str:
    """The row of one usage event, or why it was skipped."""
    try:
        event = msgspec.convert(item, _Event, strict=False)
    except (msgspec.ValidationError, RecursionError):
        return _MALFORMED_EVENT
    ms = _epoch_ms(event.timestamp)
    if ms is None:
        return _MALFORMED_EVENT
    usage = event.token_usage
    if usage is not None:
        counts = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_write_tokens,
            usage.cache_read_tokens,
        )
        problem = checks.first_token_problem(counts, checks.MAX_CALL_TOKENS)
        if problem:
            return f"skipped usage events with {problem}"
    cents = event.charged_cents
    if cents is None and usage is not None:
        cents = usage.total_cents
    if event.requests_costs is not None and not math.isfinite(event.requests_costs):
        return _MALFORMED_EVENT
    if cents is not None and not math.isfinite(cents):
        return _MALFORMED_EVENT
    max_mode = None if event.max_mode is None else ("Yes" if event.max_mode else "No")
    return (
        ms,
        _api_user(event, user),
        event.cloud_agent_id,
        event.automation_id,
        event.kind,
        event.model,
        max_mode,
        usage.cache_write_tokens if usage else None,
        usage.input_tokens if usage else None,
        usage.cache_read_tokens if usage else None,
        usage.output_tokens if usage else None,
        event.requests_costs,
        None if cents is None else cents / 100,
    )


def _read_events(path: Path, *, user: str) -> tuple[pl.DataFrame, list[Notice]]:
    """filtered-usage-events pages: one row per usage event."""
    values, notices = _load_json(path)
    items = _items(values, "usageEvents", "timestamp")
    good: list[tuple[Any, ...]] = []
    tally = Tally("Cursor: ")
    for item in items:
        row = _event_row(item, user)
        if isinstance(row, str):
            tally.add(row, str(path))
        else:
            good.append(row)
    frame = pl.DataFrame(good, schema=_EVENT_COLUMNS, orient="row")
    lf = frame.lazy().with_columns(
        ts=pl.from_epoch(pl.col("_ms"), time_unit="ms").dt.replace_time_zone("UTC"),
        origin=pl.lit(str(path)),
    )
    lf = lf.with_columns(pl.col("ts").dt.cast_time_unit("us"))
    notices.extend(tally.notices())
    return schema.conform(_identify(lf, "api", valid=pl.lit(True))).collect(), notices


def _day_of(row: _Day) -> date | None:
    if row.day:
        try:
            return date.fromisoformat(row.day.strip()[:10])
        except ValueError:
            return None
    ms = None if row.date is None else _epoch_ms(row.date)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).date()


def _read_daily(path: Path, *, user: str) -> tuple[pl.DataFrame, list[Notice]]:
    """daily-usage-data: one row per user and day, lines of code only."""
    values, notices = _load_json(path)
    items = _items(values, "data", "totalLinesAdded")
    days: list[date] = []
    users: list[str] = []
    added: list[int | None] = []
    removed: list[int | None] = []
    bad = 0
    for item in items:
        try:
            row = msgspec.convert(item, _Day, strict=False)
        except msgspec.ValidationError:
            bad += 1
            continue
        day = _day_of(row)
        if day is None:
            bad += 1
            continue
        days.append(day)
        users.append(row.email or (f"user:{row.user_id}" if row.user_id is not None else user))
        added.append(row.accepted_lines_added)
        removed.append(row.accepted_lines_deleted)
    frame = pl.DataFrame(
        {
            "ts": pl.Series(days, dtype=pl.Date)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC"),
            "user": pl.Series(users, dtype=pl.String),
            "lines_added": pl.Series(added, dtype=pl.Int64),
            "lines_removed": pl.Series(removed, dtype=pl.Int64),
        }
    )
    out = frame.lazy().with_columns(
        event_id=pl.concat_str(
            [pl.lit(_DAILY), pl.col("ts").dt.strftime("%Y-%m-%d"), pl.col("user")], separator="|"
        ),
        kind=pl.lit(_DAILY_KIND),
        origin=pl.lit(str(path)),
        as_of=pl.col("ts").max(),
        source=pl.lit(SOURCE),
    )
    if bad:
        notices.append(Notice("Cursor: skipped malformed daily usage rows", bad, str(path)))
    return schema.conform(out).collect(), notices
