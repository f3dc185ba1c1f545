"""Anthropic Admin API reports (FORMATS.md section 6): Claude Code analytics, messages usage, cost.

A file is one API response page (`{data, has_more, next_page}`), a bare list of records or
buckets, a list of pages, or pages one per line. Each item is read by its shape: a bucket
(`results[]`) of cost items (they have `amount`) or usage results, or a Claude Code record
(`actor`, `model_breakdown`). Money is in cents (a number or a decimal string) and becomes dollars.

Claude Code analytics (`usage_report/claude_code`, source `anthropic_claude_code`, kept apart from
local `claude_code` logs so the two never double count): one record per actor per day (and per
terminal and customer type; both are in the key in case a user shows up once per terminal).
Each `model_breakdown` entry becomes a row with tokens (`input` is uncached input,
`cache_creation` the cache writes) and `estimated_cost`. Lines of code, commits and pull requests
are per record, not per model: they go on one extra model-less row per record (tokens null), so
they are counted once, and a later download that adds a model never moves them between rows.
`num_sessions` has no canonical column and is not kept. `kind` is the `customer_type`
(`api` or `subscription`).

Messages usage (`usage_report/messages`, source `anthropic_api`): one row per bucket result.
The user is the most personal grouping field present: `account_id`, `service_account_id`,
`api_key_id`, `workspace_id`, else "(organization)" (an ungrouped report). `project` is the
workspace. `kind` is the `service_tier`, with `+fast` for `speed:"fast"`. The report counts no
requests, so `requests` is null.

Cost report (`cost_report`, source `anthropic_cost`): cost only, tokens null; `kind` is
`cost_type/token_type`. `"123.45"` cents is $1.2345.

Identity: the bucket (start, end) or day, plus every grouping field that is set. Among copies
of one event the newest export (`as_of`, the newest time in its file) wins, then the larger
numbers (a day's figures only grow while it fills), then a total order over the other columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import msgspec
import polars as pl

from tokenlens import schema
from tokenlens.loaders import checks
from tokenlens.loaders import files as rawfiles
from tokenlens.loaders.base import ExportKind, Scan, epoch_text
from tokenlens.loaders.checks import Tally

SOURCE_CLAUDE_CODE: Final = "anthropic_claude_code"
SOURCE_API: Final = "anthropic_api"
SOURCE_COST: Final = "anthropic_cost"
SOURCES: Final = (SOURCE_CLAUDE_CODE, SOURCE_API, SOURCE_COST)
_ADMIN = "with an Admin key (sk-ant-admin...); save the JSON response of each page"
EXPORTS: Final = (
    ExportKind(
        SOURCE_CLAUDE_CODE,
        "Anthropic Claude Code analytics report (JSON)",
        f"GET /v1/organizations/usage_report/claude_code?starting_at=YYYY-MM-DD {_ADMIN}",
    ),
    ExportKind(
        SOURCE_API,
        "Anthropic messages usage report (JSON)",
        "GET /v1/organizations/usage_report/messages?starting_at=...&bucket_width=1d"
        f"&group_by[]=api_key_id&group_by[]=model {_ADMIN}",
    ),
    ExportKind(
        SOURCE_COST,
        "Anthropic cost report (JSON)",
        "GET /v1/organizations/cost_report?starting_at=...&group_by[]=workspace_id"
        f"&group_by[]=description {_ADMIN}",
    ),
)

ORGANIZATION: Final = "(organization)"
CURRENCY: Final = "USD"
METRICS_ROW: Final = "metrics"
FAST: Final = "fast"

# Messages usage: grouping fields, in key order; the first set one of USER_FIELDS is the user.
_MESSAGES_KEY: Final = (
    "account_id",
    "service_account_id",
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
)
_USER_FIELDS: Final = ("account_id", "service_account_id", "api_key_id", "workspace_id")
# Cost report: grouping and description fields, in key order.
_COST_KEY: Final = (
    "workspace_id",
    "description",
    "cost_type",
    "token_type",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
)

Count = int | float | None
Money = int | float | str | None


# ------------------------------------------------------------------------------ typed shapes


class _Actor(msgspec.Struct, gc=False):
    type: str | None = None
    email_address: str | None = None
    api_key_name: str | None = None


class _LinesOfCode(msgspec.Struct, gc=False):
    added: Count = None
    removed: Count = None


class _CoreMetrics(msgspec.Struct, gc=False):
    num_sessions: Count = None
    lines_of_code: _LinesOfCode | None = None
    commits_by_claude_code: Count = None
    pull_requests_by_claude_code: Count = None


class _Cost(msgspec.Struct, gc=False):
    amount: Money = None
    currency: str | None = None


class _ModelTokens(msgspec.Struct, gc=False):
    input: Count = None
    output: Count = None
    cache_read: Count = None
    cache_creation: Count = None


class _ModelUsage(msgspec.Struct, gc=False):
    model: str | None = None
    tokens: _ModelTokens | None = None
    estimated_cost: _Cost | None = None


class _ClaudeCodeRecord(msgspec.Struct, gc=False):
    date: str
    actor: _Actor
    core_metrics: _CoreMetrics | None = None
    customer_type: str | None = None
    terminal_type: str | None = None
    organization_id: str | None = None
    model_breakdown: list[_ModelUsage] | None = None


class _CacheCreation(msgspec.Struct, gc=False):
    ephemeral_1h_input_tokens: Count = None
    ephemeral_5m_input_tokens: Count = None


class _UsageResult(msgspec.Struct, gc=False):
    uncached_input_tokens: Count = None
    cache_creation: _CacheCreation | None = None
    cache_read_input_tokens: Count = None
    output_tokens: Count = None
    account_id: str | None = None
    service_account_id: str | None = None
    api_key_id: str | None = None
    workspace_id: str | None = None
    model: str | None = None
    service_tier: str | None = None
    context_window: str | None = None
    inference_geo: str | None = None
    speed: str | None = None


class _CostResult(msgspec.Struct, gc=False):
    amount: Money
    currency: str | None = None
    workspace_id: str | None = None
    description: str | None = None
    cost_type: str | None = None
    token_type: str | None = None
    model: str | None = None
    service_tier: str | None = None
    context_window: str | None = None
    inference_geo: str | None = None
    speed: str | None = None


class _Bucket(msgspec.Struct, gc=False):
    starting_at: str
    ending_at: str | None = None
    results: list[Any] = msgspec.field(default_factory=list)


_ANY = msgspec.json.Decoder()


# ------------------------------------------------------------------------------ rows

_RAW: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "key": pl.String(),
    "start": pl.String(),
    "end": pl.String(),
    "user": pl.String(),
    "project": pl.String(),
    "model": pl.String(),
    "kind": pl.String(),
    "input_tokens": pl.Int64(),
    "cache_write_tokens": pl.Int64(),
    "cache_write_1h_tokens": pl.Int64(),
    "cache_read_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "reported_cost_usd": pl.Float64(),
    "lines_added": pl.Int64(),
    "lines_removed": pl.Int64(),
    "commits": pl.Int64(),
    "pull_requests": pl.Int64(),
    "origin": pl.String(),
}


class _RefusedError(ValueError):
    """A record whose numbers cannot be used; the message says why (a `checks` reason)."""


@dataclass
class _Rows:
    columns: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in _RAW})
    tally: Tally = field(default_factory=lambda: Tally("Anthropic: "))
    origin: str = ""

    def add(self, **row: Any) -> None:
        for name, values in self.columns.items():
            values.append(row.get(name))

    def bad(self, source: str, exc: Exception | None = None) -> None:
        """Count a skipped item of `source`: malformed, or refused for the reason in `exc`."""
        if isinstance(exc, _RefusedError):
            self.tally.add(f"skipped {_NAMES[source]} with {exc}", self.origin)
        else:
            self.tally.add(f"skipped malformed {_NAMES[source]}", self.origin)


def _int(value: Count) -> int | None:
    """A count as an int; null stays null. Fractions, negatives, NaN and absurd counts are
    refused."""
    problem = checks.token_problem(value, checks.MAX_ROW_TOKENS)
    if problem:
        raise _RefusedError(problem)
    return None if value is None else int(value)


# The largest amount a row may report, in dollars.
_MAX_DOLLARS: Final = 1e12


def _dollars(cents: Money) -> float | None:
    """Cents (a number or a decimal string) to dollars, exactly up to the final float."""
    if cents is None or isinstance(cents, bool):
        return None
    try:
        amount = Decimal(str(cents).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {cents!r}") from exc
    if not amount.is_finite():
        raise _RefusedError("an amount that is NaN or Infinity")
    dollars = float(amount / 100)
    if abs(dollars) > _MAX_DOLLARS:
        raise _RefusedError(f"an absurd amount (over ${_MAX_DOLLARS:,.0f})")
    return dollars


def _key(pairs: Iterable[tuple[str, Any]]) -> str:
    """`name=value` for each set field, in table order (unset fields add nothing)."""
    return "|".join(f"{name}={value}" for name, value in pairs if value not in (None, ""))


def _claude_code(item: dict[str, Any], origin: str, rows: _Rows) -> None:
    record = msgspec.convert(item, _ClaudeCodeRecord, strict=False)
    actor = record.actor
    who = actor.email_address or actor.api_key_name
    if not who:
        raise ValueError("record without an actor")
    base = _key(
        (
            ("actor", f"{actor.type or 'actor'}:{who}"),
            ("org", record.organization_id),
            ("terminal", record.terminal_type),
            ("customer", record.customer_type),
        )
    )
    day = record.date.strip()[:10]
    common = {
        "source": SOURCE_CLAUDE_CODE,
        "start": day,
        "end": day,
        "user": who,
        "kind": record.customer_type,
        "origin": origin,
    }
    pending = []
    other_currency = 0
    for usage in record.model_breakdown or ():
        tokens = usage.tokens or _ModelTokens()
        cost = usage.estimated_cost or _Cost()
        currency_ok = cost.currency in (None, "", CURRENCY)
        other_currency += not currency_ok
        pending.append(
            {
                **common,
                "key": f"{base}|model={usage.model or ''}",
                "model": usage.model,
                "input_tokens": _int(tokens.input) or 0,
                "cache_write_tokens": _int(tokens.cache_creation) or 0,
                "cache_write_1h_tokens": 0,
                "cache_read_tokens": _int(tokens.cache_read) or 0,
                "output_tokens": _int(tokens.output) or 0,
                "reported_cost_usd": _dollars(cost.amount) if currency_ok else None,
            }
        )
    core = record.core_metrics
    if core is not None:
        lines = core.lines_of_code or _LinesOfCode()
        pending.append(
            {
                **common,
                "key": f"{base}|{METRICS_ROW}",
                "lines_added": _int(lines.added),
                "lines_removed": _int(lines.removed),
                "commits": _int(core.commits_by_claude_code),
                "pull_requests": _int(core.pull_requests_by_claude_code),
            }
        )
    for row in pending:  # all or nothing: a bad number anywhere skips the whole record
        rows.add(**row)
    if other_currency:
        rows.tally.add(_OTHER_CURRENCY, origin, count=other_currency)


def _usage(bucket: _Bucket, item: dict[str, Any], origin: str, rows: _Rows) -> None:
    r = msgspec.convert(item, _UsageResult, strict=False)
    cache = r.cache_creation or _CacheCreation()
    write_1h = _int(cache.ephemeral_1h_input_tokens) or 0
    write_5m = _int(cache.ephemeral_5m_input_tokens) or 0
    user = next((getattr(r, f) for f in _USER_FIELDS if getattr(r, f)), ORGANIZATION)
    kind = r.service_tier
    if r.speed == FAST:
        kind = f"{kind or 'standard'}{schema.FAST_SUFFIX}"
    rows.add(
        source=SOURCE_API,
        key=_key((f, getattr(r, f)) for f in _MESSAGES_KEY),
        start=bucket.starting_at,
        end=bucket.ending_at or bucket.starting_at,
        user=user,
        project=r.workspace_id,
        model=r.model,
        kind=kind,
        input_tokens=_int(r.uncached_input_tokens) or 0,
        cache_write_tokens=write_1h + write_5m,
        cache_write_1h_tokens=write_1h,
        cache_read_tokens=_int(r.cache_read_input_tokens) or 0,
        output_tokens=_int(r.output_tokens) or 0,
        origin=origin,
    )


def _cost(bucket: _Bucket, item: dict[str, Any], origin: str, rows: _Rows) -> None:
    r = msgspec.convert(item, _CostResult, strict=False)
    if r.currency not in (None, "", CURRENCY):
        rows.tally.add(_OTHER_CURRENCY, origin)
        return
    kinds = [k for k in (r.cost_type, r.token_type) if k]
    rows.add(
        source=SOURCE_COST,
        key=_key((f, getattr(r, f)) for f in _COST_KEY),
        start=bucket.starting_at,
        end=bucket.ending_at or bucket.starting_at,
        user=r.workspace_id or ORGANIZATION,
        project=r.workspace_id,
        model=r.model,
        kind="/".join(kinds) or None,
        reported_cost_usd=_dollars(r.amount),
        origin=origin,
    )


def _bucket(item: dict[str, Any], origin: str, rows: _Rows) -> None:
    try:
        bucket = msgspec.convert(item, _Bucket, strict=False)
    except msgspec.ValidationError:
        rows.bad(SOURCE_API)
        return
    for result in bucket.results:
        is_cost = isinstance(result, dict) and "amount" in result
        source = SOURCE_COST if is_cost else SOURCE_API
        if not isinstance(result, dict):
            rows.bad(source)
            continue
        try:
            (_cost if is_cost else _usage)(bucket, result, origin, rows)
        except (msgspec.ValidationError, ValueError) as exc:
            rows.bad(source, exc)


# ------------------------------------------------------------------------------ reading


def _documents(path: Path, rows: _Rows) -> list[Any]:
    """The JSON documents in a file: one document, or one per line (bad lines are told)."""
    docs = rawfiles.json_documents(path, rawfiles.read_bytes(path))
    for line in docs.bad_lines:
        rows.tally.add("skipped lines that are not valid JSON", str(path), line)
    if docs.repaired:
        rows.tally.add("read a file holding invalid UTF-8 (bad bytes replaced)", str(path))
    return docs.values


def _items(doc: Any) -> Iterator[Any]:
    """Records or buckets: a page's `data`, a bare list of them, or a list of pages."""
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        yield from doc["data"]
    elif isinstance(doc, list):
        for element in doc:
            nested = isinstance(element, list) or (
                isinstance(element, dict) and isinstance(element.get("data"), list)
            )
            yield from _items(element) if nested else (element,)
    else:
        yield doc


_UNKNOWN: Final = "skipped items that are neither usage buckets nor Claude Code records"
_OTHER_CURRENCY: Final = "ignored amounts in a currency other than USD"


def _read(path: Path, rows: _Rows) -> None:
    origin = rows.origin = str(path)
    for doc in _documents(path, rows):
        for item in _items(doc):
            if not isinstance(item, dict):
                rows.tally.add(_UNKNOWN, origin)
            elif "results" in item:
                _bucket(item, origin, rows)
            elif "actor" in item or "model_breakdown" in item:
                try:
                    _claude_code(item, origin, rows)
                except (msgspec.ValidationError, ValueError) as exc:
                    rows.bad(SOURCE_CLAUDE_CODE, exc)
            else:
                rows.tally.add(_UNKNOWN, origin)


# ------------------------------------------------------------------------------ frame

_ISO: Final = "%Y-%m-%dT%H:%M:%SZ"
# RFC 3339: `Z` or an offset, fraction optional. One explicit format: no per-column inference.
_RFC3339: Final = "%Y-%m-%dT%H:%M:%S%.f%#z"


def _parse_ts(expr: pl.Expr) -> pl.Expr:
    """RFC 3339 times, or bare `YYYY-MM-DD` dates (00:00 UTC), or epoch seconds or milliseconds."""
    full = expr.str.to_datetime(_RFC3339, time_zone="UTC", strict=False).dt.cast_time_unit("us")
    day = expr.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us", "UTC"))
    parsed = pl.when(expr.str.len_chars() == 10).then(day).otherwise(full)
    return parsed.fill_null(epoch_text(expr))


def _canonical(raw: pl.DataFrame) -> tuple[pl.LazyFrame, dict[str, int]]:
    """Canonical rows, and how many per file had an unreadable date or bucket time."""
    parsed = raw.with_columns(ts=_parse_ts(pl.col("start")), _end=_parse_ts(pl.col("end")))
    readable = pl.col("ts").is_not_null() & pl.col("_end").is_not_null()
    unreadable = parsed.filter(~readable).group_by("origin", maintain_order=True).len()
    bad = dict(unreadable.iter_rows())
    when = (
        pl.when(pl.col("source") == SOURCE_CLAUDE_CODE)
        .then(pl.col("ts").dt.strftime("%Y-%m-%d"))
        .otherwise(
            pl.concat_str(
                [pl.col("ts").dt.strftime(_ISO), pl.col("_end").dt.strftime(_ISO)], separator="/"
            )
        )
    )
    frame = (
        parsed.lazy()
        .filter(readable)
        .with_columns(
            event_id=pl.concat_str(
                [when, pl.col("key").replace("", None)], separator="|", ignore_nulls=True
            ),
            as_of=pl.col("_end").max().over("origin"),
            requests=pl.lit(None, pl.Float64),
        )
    )
    return frame, bad


def _tail(names: list[str], taken: tuple[str, ...]) -> list[str]:
    """The columns not yet in a sort, canonical ones first then any others (e.g. pricing), so
    the sort is a total order and the copy kept never depends on row order."""
    usage = [c for c in schema.USAGE if c in names and c not in taken]
    return usage + sorted(c for c in names if c not in schema.USAGE and c not in taken)


_BIGGER_FIRST: Final = (
    "reported_cost_usd",
    "lines_added",
    "lines_removed",
    "commits",
    "pull_requests",
)


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (source, event_id), independent of row order and idempotent.

    The copy from the newest export (`as_of`) wins; between exports as new as each other the
    larger figures win (token total, cost, then lines, commits and pull requests: a day's numbers
    only grow while it fills); then a total order over the remaining columns.
    """
    names = lf.collect_schema().names()
    first = ["as_of", "_total", *_BIGGER_FIRST]
    rest = _tail(names, (*schema.KEY, *first))
    return (
        lf.with_columns(_total=schema.total_tokens())
        .sort(
            [*schema.KEY, *first, *rest],
            descending=[False, False, *([True] * len(first)), *([False] * len(rest))],
            nulls_last=True,
            maintain_order=True,
        )
        .unique(subset=list(schema.KEY), keep="first", maintain_order=True)
        .drop("_total")
        .sort("ts", "source", "event_id", nulls_last=True)
    )


def scan(files: list[Path], *, user: str) -> Scan:
    """Read Anthropic Admin API reports into canonical rows, deduplicated by `dedupe`'s rule.

    `user` is not used: every row names its actor, API key, workspace or the organization.
    """
    del user
    rows = _Rows()
    unique = sorted(set(files))
    for path in unique:
        _read(path, rows)
    raw = pl.DataFrame({n: pl.Series(n, rows.columns[n], dtype=t) for n, t in _RAW.items()})
    frame, bad_dates = _canonical(raw)
    out = dedupe(schema.conform(frame)).collect()
    for origin, count in bad_dates.items():
        rows.tally.add("skipped rows with an unreadable date", origin, count=count)
    return Scan(SOURCE_API, out.lazy(), rows.tally.notices(), unique)


_NAMES: Final = {
    SOURCE_CLAUDE_CODE: "Claude Code analytics records",
    SOURCE_API: "messages usage results",
    SOURCE_COST: "cost items",
}
