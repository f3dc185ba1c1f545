"""GitHub Copilot billing reports and usage metrics (FORMATS.md section 3).

Four formats, told apart by `detect.sniff`:

- `copilot_usage_csv`: the premium-request usage report (2025 header, later with
  `aic_quantity,aic_gross_amount` appended) and the 2026 AI usage report (AI-credit SKUs, a
  `repository` column, token columns `input,output,cache_read,cache_write`). Also the metered usage
  reports, which share the `date,sku,quantity` key.
- `copilot_premium_csv`: the legacy premium request analytics report
  (`Timestamp,User,Model,Requests Used,...`).
- `copilot_metrics_users`: usage-metrics user records, as bare NDJSON/JSON records or wrapped in
  `{report_start_day, ..., day_totals: [...]}` (the copilot-metrics-viewer mock).
- `copilot_metrics_legacy`: the legacy `/copilot/metrics` JSON array of daily organization objects.

Billing CSVs. Columns are matched by header name (trimmed, lower-cased), never by position.
`quantity` (legacy `Requests Used`) becomes `requests`, rounded to 1e-9 so artifacts such as
`3.6300000000000003` do not leak into totals; `net_amount` (dollars, also rounded to 1e-9) is the
reported cost. `aic_quantity`/`aic_gross_amount` are information only: never added to cost or
requests, and left out of a row's identity so a re-download that gained them still matches. Token
cells are null where a report has no token columns or the cell is empty, never 0. The AI usage
report's `input` is taken as uncached input: the report lists `input`, `output`, `cache_read`,
`cache_write` as four separate counts and FORMATS.md section 7 classes it with the Anthropic-style
sources (the published example, input 100 with cache_read 10, is consistent with that). Rows with an
empty `username` are organization-level (e.g. the Code Review model) and get the user
`(organization)`; `project` is the repository where there is one, else the organization. Rows of
other GitHub products in a metered usage report (Actions, Packages, ...) are skipped with a notice;
a Copilot row whose `unit_type` is neither `requests` nor `ai-credits` keeps its cost but no
requests.

Identity. Rows that share date, user, model and sku can be distinct line items with different
quantities, so a row's identity is the whole row (every column but the `aic_*` ones, in
header-name order, so a reordered header still matches) plus its occurrence number among identical
rows of the same file. Re-ingesting a file, or an overlapping download holding the same rows, adds
nothing: the n-th copy of a row in each file is the same event. Known limit: a figure that changes
between downloads (a day still being counted when the first one was taken) is a different row, so
both copies count.

Usage metrics user records. `day` + `user_id` (else `user_login`) is the event; `loc_added_sum` and
`loc_deleted_sum` become lines added/removed; `user_initiated_interaction_count` becomes `requests`
(interactions, not billed units: do not add them to premium requests). Tokens come only from the
CLI (`totals_by_cli.token_usage`): `prompt_tokens_sum` goes to `input_tokens` whole, because no
cached split is reported although the Copilot CLI counts cached tokens inside its prompt total, so
it is an upper bound on uncached input; `output_tokens_sum` is output. `model` is the one model
named in `totals_by_language_model` / `totals_by_model_feature` (ignoring the `others` bucket),
else null. Organization- or enterprise-level records (no `user_login`) are skipped with a notice.

Legacy metrics. One row per day for the whole organization (user `(organization)`; the file names
no organization, so two organizations' files would share event ids): `lines_added` is
`total_code_lines_accepted` summed over editors, models and languages; `requests` is `total_chats`
summed over IDE chat and github.com chat; no tokens. `model` is the single model name of the day,
else null.

`ts` is the day at 00:00 UTC (legacy timestamps as given, 7 fractional digits truncated to
microseconds); `as_of` is the newest `ts` in the file, so among copies of one event the newest
export wins.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

import msgspec
import polars as pl

from tokenlens import schema
from tokenlens.errors import InputError, Notice
from tokenlens.loaders import checks, detect
from tokenlens.loaders import files as rawfiles
from tokenlens.loaders.base import ExportKind, Scan, epoch_text, iso_dated, maybe_repeated
from tokenlens.loaders.checks import Tally

__all__ = ["EXPORTS", "ORG_USER", "SOURCE", "SOURCES", "dedupe", "scan"]

SOURCE: Final = "copilot"
SOURCES: Final = (SOURCE,)
ORG_USER: Final = "(organization)"  # the user of rows that name none (organization-level usage)
DIGITS: Final = 9  # quantities and amounts are rounded to 1e-9

EXPORTS: Final = (
    ExportKind(
        SOURCE,
        "copilot_usage_csv",
        "github.com: Settings > Billing and licensing > Usage / AI usage > Get usage report "
        "(premium requests or AI usage report CSV, sent by email)",
    ),
    ExportKind(
        SOURCE,
        "copilot_premium_csv",
        "github.com: Settings > Billing and licensing > Premium request analytics > Get usage "
        "report (legacy CSV, closed 2025-12-01)",
    ),
    ExportKind(
        SOURCE,
        "copilot_metrics_users",
        "REST: GET /orgs/{org}/copilot/metrics/reports/users-1-day?day=YYYY-MM-DD (or "
        "users-28-day/latest), then save each file of download_links",
    ),
    ExportKind(
        SOURCE,
        "copilot_metrics_legacy",
        "REST: GET /orgs/{org}/copilot/metrics (legacy JSON array of days) saved to a .json file",
    ),
)

# canonical column <- header spellings (trimmed, lower-cased) in the usage reports
_USAGE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "ts": ("date",),
    "user": ("username",),
    "model": ("model",),
    "kind": ("sku",),
    "requests": ("quantity",),
    "reported_cost_usd": ("net_amount",),
    "_repository": ("repository",),
    "_organization": ("organization",),
    "_product": ("product",),
    "_unit": ("unit_type",),
    # AI usage report; the total_* spellings are read by asizikov's viewer (tokenFields.ts)
    "input_tokens": ("input", "total_input_tokens"),
    "output_tokens": ("output", "total_output_tokens"),
    "cache_read_tokens": ("cache_read", "total_cache_read_tokens"),
    "cache_write_tokens": ("cache_write", "total_cache_creation_tokens"),
}
# canonical column <- header spellings in the legacy premium request analytics report
_LEGACY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "ts": ("timestamp",),
    "user": ("user",),
    "model": ("model",),
    "requests": ("requests used",),
}
_INFO_ONLY: Final = frozenset({"aic_quantity", "aic_gross_amount"})  # never cost, never identity
_ID_FIRST: Final = ("date", "timestamp", "username", "user", "sku", "model")  # event id order
_TOKEN_COLUMNS: Final = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
_AI_PRODUCTS: Final = ("copilot", "spark")
_AI_SKU_PATTERN: Final = "copilot|premium_request|ai_credit"
_REQUEST_UNITS: Final = ("requests", "ai-credits", "")
_LEGACY_KIND: Final = "premium_request"  # the legacy report names no SKU
_USERS_KIND: Final = "usage_metrics"
_LEGACY_METRICS_KIND: Final = "legacy_metrics"
_OTHER_MODEL: Final = "others"  # the metrics' catch-all bucket, not a model
_EXTRA: Final = "\x00extra"  # catches a field past the header (a ragged row)
_ISO_Z: Final = "%Y-%m-%dT%H:%M:%S%.fZ"
_T = TypeVar("_T")


def scan(files: list[Path], *, user: str) -> Scan:
    """Read Copilot reports into canonical rows, deduplicated by `dedupe`.

    `user` is not used: every row names its user, and organization-level rows get `ORG_USER`
    rather than the local login.
    """
    del user
    frames: list[pl.DataFrame] = []
    formats: list[str] = []
    notices: list[Notice] = []
    for path in sorted(set(files)):
        head = _head(path)
        if rawfiles.is_archive(head):
            raise rawfiles.archive_error(path)
        fmt = detect.sniff(head, rawfiles.plain_name(path))
        reader = _READERS.get(fmt or "")
        if reader is None:
            raise InputError(
                f"{path}: not a GitHub Copilot report",
                hint="Give a Copilot usage report CSV or a Copilot metrics JSON/NDJSON file.",
            )
        frame, found = reader(path)
        formats.append(fmt or "")
        frames.append(frame)
        notices.extend(found)
    if formats in (["copilot_usage_csv"], ["copilot_premium_csv"]):
        # one CSV: its ids are unique already (see `_with_event_id`)
        return Scan(SOURCE, frames[0].lazy(), notices, list(files))
    merged = pl.concat(frames) if frames else schema.empty()
    return Scan(SOURCE, dedupe(merged.lazy()).collect().lazy(), notices, list(files))


def dedupe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """One row per event id; which copy survives never depends on row order; idempotent.

    Copies of one event come from overlapping downloads. The copy from the newest export
    (`as_of`) wins, then the smallest `origin`; two versions from one file path with one `as_of`
    (a file replaced in place) are told apart by a hash of their other columns, so only a 64-bit
    collision between two such versions could make the choice depend on order.

    Cost matters here: a million-row report merged with an overlapping one must not be sorted
    whole. Only rows whose key hash repeats take part (a collision merely adds a candidate);
    the ranking uses the small `as_of`/`origin` columns (plus the content hash, computed only for
    the rare rows tied on those); and only the key is reordered by it.
    """
    key = list(schema.KEY)
    content = [c for c in lf.collect_schema().names() if c not in (*key, "as_of", "origin")]
    hashed = lf.with_columns(_key=pl.struct(key).hash())
    repeated = pl.col("_key").is_duplicated()
    copies = hashed.filter(repeated).with_columns(
        _tied=pl.struct("_key", "as_of", "origin").hash().is_duplicated()
    )
    ranked = pl.concat(
        [
            copies.filter(~pl.col("_tied")).with_columns(_content=pl.lit(0, pl.UInt64)),
            copies.filter(pl.col("_tied")).with_columns(_content=pl.struct(content).hash()),
        ]
    ).with_columns(
        _rank=pl.arg_sort_by(
            ["as_of", "origin", "_content"], descending=[True, False, False], nulls_last=True
        ).arg_sort()
    )
    best = ranked.filter(
        pl.struct(key).sort_by("_rank").is_first_distinct().gather(pl.col("_rank"))
    ).drop("_tied", "_content", "_rank")
    return pl.concat([hashed.filter(~repeated), best]).drop("_key")


# --------------------------------------------------------------------------- billing CSVs


def _head(path: Path) -> bytes:
    try:
        return detect.read_head(path)
    except rawfiles.READ_ERRORS as exc:
        raise rawfiles.cannot_read(path, exc) from exc


def _read_bytes(path: Path) -> bytes:
    return rawfiles.read_bytes(path)


def _first_line(data: Path | bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        with open(data, "rb") as handle:
            first = handle.readline()
    except rawfiles.READ_ERRORS as exc:
        raise rawfiles.cannot_read(data, exc) from exc
    return first


def _header(path: Path, data: Path | bytes) -> list[str]:
    """The header cells, trimmed and lower-cased; a repeated name gets a `#n` suffix."""
    data = _first_line(data)
    end = data.find(b"\n")
    first = (
        data[: end if end >= 0 else len(data)].removeprefix(detect.BOM).decode("utf-8", "replace")
    )
    names: list[str] = []
    for cell in next(csv.reader([first.rstrip("\r")]), []):
        name = cell.strip().lower()
        names.append(name if name not in names else f"{name}#{len(names)}")
    if not any(names):
        raise InputError(f"{path}: empty CSV file", hint="Download the report again.")
    return names


def _read_table(path: Path, data: Path | bytes) -> tuple[pl.DataFrame, bool]:
    """Every cell as a string ("" when empty), columns named by the header, plus `_ROW` (the
    row's index, for line numbers); and whether invalid UTF-8 was replaced.

    Column `_EXTRA` is "" unless the row has more fields than the header (a malformed row). The
    plain, strict UTF-8 read is the fast path; only when it fails is the file read again with
    room for an extra field and invalid bytes replaced.
    """
    header = _header(path, data)
    slots = [f"c{i}" for i in range(len(header))]
    options: dict[str, Any] = {
        "has_header": False,
        "skip_rows": 1,
        "empty_string_is_null": False,
        "raise_if_empty": False,
        "row_index_name": _ROW,
    }
    repaired = False
    try:
        raw = pl.read_csv(data, schema=dict.fromkeys(slots, pl.String()), **options)
        raw = raw.with_columns(pl.lit("").alias(_EXTRA))
    except pl.exceptions.PolarsError:
        data = data if isinstance(data, bytes) else _read_bytes(path)
        repaired = _invalid_utf8(data)
        try:
            raw = pl.read_csv(
                data,
                schema=dict.fromkeys([*slots, _EXTRA], pl.String()),
                truncate_ragged_lines=True,
                missing_columns="insert",
                encoding="utf8-lossy",
                **options,
            )
        except pl.exceptions.PolarsError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise InputError(
                f"{path}: cannot read as CSV ({reason})", hint="Download the report again."
            ) from exc
    named = raw.rename(dict(zip(slots, header, strict=True)))
    return named.with_columns(pl.exclude(_ROW).fill_null("")), repaired


def _invalid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _pick(present: Sequence[str], table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """canonical name -> the header that carries it (its first spelling present)."""
    found = {}
    for canonical, spellings in table.items():
        header = next((s for s in spellings if s in present), None)
        if header is not None:
            found[canonical] = header
    return found


def _text(column: str | None) -> pl.Expr:
    """A trimmed cell, null when empty or when the report has no such column."""
    if column is None:
        return pl.lit(None, pl.String)
    return pl.col(column).str.strip_chars().replace("", None)


def _number(column: str | None, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """A parsed numeric cell and a flag for text that is not a number (a malformed row)."""
    text = _text(column)
    value = text.cast(dtype, strict=False)
    if dtype == pl.Float64():
        value = value.round(DIGITS)
    return value, (text.is_not_null() & value.is_null())


def _parse_times(text: pl.Series) -> pl.Series:
    """`YYYY-MM-DD` as 00:00 UTC; ISO timestamps (7 fractional digits allowed) as given.

    Later spellings are only tried when an earlier one left cells unparsed.
    """
    out = text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us", "UTC"))
    for fmt in (_ISO_Z, None):
        if out.null_count() == text.null_count():
            break
        cells = text if fmt else text.to_frame("t").select(iso_dated(pl.col("t"))).to_series()
        parsed = cells.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
        out = out.zip_with(out.is_not_null(), parsed)
    if out.null_count() > text.null_count():  # epoch seconds or milliseconds
        epoch = text.to_frame("t").select(epoch_text(pl.col("t"))).to_series()
        out = out.zip_with(out.is_not_null(), epoch)
    return out


def _identity_columns(names: Iterable[str]) -> list[str]:
    """The columns that make a row's identity: the readable key first, then the rest by name,
    so a reordered header still gives the same ids."""
    rest = sorted(n for n in names if n not in _INFO_ONLY and n != _EXTRA and n not in _ID_FIRST)
    return [n for n in _ID_FIRST if n in names] + rest


def _with_event_id(
    frame: pl.DataFrame, columns: list[str], prefix: str, *, escape: bool
) -> pl.DataFrame:
    """`event_id` = the whole row as text plus its occurrence number among identical rows.

    The text is the prefix and the cells joined by `|`, with `|` and `\\` inside cells escaped
    (only when the file holds any: `escape`), then `#n`. Rows whose text hash is unique are the
    first of their kind; only the rare rest are grouped on the text itself, so a hash collision
    costs time, never correctness.
    """
    cells = [
        pl.col(c)
        .str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all("|", "\\|", literal=True)
        if escape
        else pl.col(c)
        for c in columns
    ]
    first = frame.select(pl.concat_str([pl.lit(prefix), *cells, pl.lit("#1")], separator="|"))
    ids = first.to_series().alias("event_id")
    maybe = maybe_repeated(ids)
    if maybe.any():
        where = maybe.arg_true()
        same = pl.col("event_id")
        numbered = (
            ids.gather(where)
            .to_frame()
            .select(same.str.head(-1) + (pl.int_range(pl.len()).over(same) + 1).cast(pl.String))
            .to_series()
        )
        ids = ids.scatter(where, numbered)
    return frame.with_columns(ids)


def _csv_rows(
    path: Path,
    table: dict[str, tuple[str, ...]],
    *,
    prefix: str,
    label: str,
    kind: pl.Expr | None = None,
) -> tuple[pl.DataFrame, list[Notice]]:
    """Canonical rows of one billing CSV, with notices about the rows it skipped."""
    try:
        data: Path | bytes = path if rawfiles.is_plain(path) else _read_bytes(path)
    except rawfiles.READ_ERRORS as exc:
        raise rawfiles.cannot_read(path, exc) from exc
    escape = rawfiles.holds_any(data, (b"|", b"\\"))
    raw, repaired = _read_table(path, data)
    del data
    names = [c for c in raw.columns if c not in (_EXTRA, _ROW)]
    cols = _pick(names, table)
    _check_columns(path, cols, names, table, label)
    rows_in_file = raw.height
    dtypes: dict[str, pl.DataType] = {"requests": pl.Float64(), "reported_cost_usd": pl.Float64()}
    dtypes.update(dict.fromkeys(_TOKEN_COLUMNS, pl.Int64()))
    values = {name: pl.col(name).cast(dtype, strict=False) for name, dtype in dtypes.items()}
    # parsed once into `_p_*` columns: an expression used in several places runs once per use
    parsed_names = [f"_p_{name}" for name in dtypes]
    parsed = {name: pl.col(f"_p_{name}") for name in dtypes}
    raw = raw.filter(pl.sum_horizontal(pl.col(n).str.len_bytes() for n in names) > 0)
    raw = _with_event_id(raw, _identity_columns(names), prefix, escape=escape)
    replaced = _replaced_rows(raw, names) if repaired else []
    checked = (
        raw.with_columns(
            ts=_parse_times(raw.select(_text(cols["ts"])).to_series()),
            _other_product=_other_products(raw, cols),
        )
        .lazy()
        .select(
            _ROW,
            "event_id",
            "ts",
            "_other_product",
            _extra=pl.col(_EXTRA) != "",
            _product=_text(cols.get("_product")),
            _unit=_text(cols.get("_unit")).str.to_lowercase().fill_null(""),
            source=pl.lit(SOURCE),
            user=_text(cols.get("user")).fill_null(ORG_USER),
            project=pl.coalesce(_text(cols.get("_repository")), _text(cols.get("_organization"))),
            model=_text(cols.get("model")),
            kind=kind if kind is not None else _text(cols.get("kind")),
            origin=pl.lit(str(path)),
            **{name: _text(cols.get(name)) for name in dtypes},
        )
        .with_columns(**{f"_p_{name}": value for name, value in values.items()})
        .with_columns(
            # a number cell holding text that is not a number makes the row malformed; a count
            # that is NaN, Infinity, negative or absurd is refused too
            _why=_why(parsed),
            **parsed,
        )
        .drop(*parsed_names)
        .with_columns(_bad=pl.col("_why") > 0)
        .with_columns(
            pl.col("reported_cost_usd").round(DIGITS),
            # requests are counted in `requests` or `ai-credits` units, not seats or minutes
            requests=pl.when(pl.col("_unit").is_in(_REQUEST_UNITS)).then(
                pl.col("requests").round(DIGITS)
            ),
            # the report does not split cache writes by lifetime: the 1-hour part is unknown (0)
            cache_write_1h_tokens=pl.when(pl.col("cache_write_tokens").is_not_null()).then(0),
        )
        .collect()
    )
    del raw
    malformed = int(checked.get_column("_bad").sum())
    notices = _skipped(checked, path, label) if malformed else []
    others = checked.filter(~pl.col("_bad") & pl.col("_other_product"))
    kept = (
        checked.filter(~pl.col("_bad") & ~pl.col("_other_product"))
        if malformed or others.height
        else checked
    )
    rows = schema.conform(kept.lazy().with_columns(as_of=pl.col("ts").max())).collect()
    if replaced:
        tally = Tally("GitHub Copilot: ")
        for line in rawfiles.csv_row_lines(_read_bytes(path), replaced):
            tally.add("read rows holding invalid UTF-8 (bad bytes replaced)", str(path), line)
        notices = [*tally.notices(), *notices]
    if rows_in_file == 0:
        message = "GitHub Copilot: the file holds a header and no rows"
        notices.append(Notice(message, None, str(path)))
    if others.height:
        products = sorted({p for p in others.get_column("_product").to_list() if p})
        notices.append(
            Notice(
                "GitHub Copilot: skipped rows of other GitHub products"
                + (f" ({', '.join(products[:5])})" if products else ""),
                others.height,
                str(path),
            )
        )
    return rows, notices


_ROW: Final = "_row"  # a row's index among the data rows of its file, for line numbers
# Why a row is skipped, by code (0: it is not).
_WHY: Final = {
    1: "malformed",
    2: checks.NOT_FINITE,
    3: checks.NEGATIVE,
    4: checks.too_large(checks.MAX_ROW_TOKENS),
}


def _why(values: dict[str, pl.Expr]) -> pl.Expr:
    """The code (see `_WHY`) of the first reason a row cannot be used, from its text cells
    (the columns as they stand) and their parsed `values`."""
    malformed = pl.any_horizontal(
        pl.col("_extra"),
        pl.col("ts").is_null(),
        *(pl.col(name).is_not_null() & value.is_null() for name, value in values.items()),
    )
    floats = [v for n, v in values.items() if n in ("requests", "reported_cost_usd")]
    tokens = [v for n, v in values.items() if n in _TOKEN_COLUMNS]
    return (
        pl.when(malformed)
        .then(1)
        .when(pl.any_horizontal(~v.is_finite() for v in floats))
        .then(2)
        .when(pl.any_horizontal(v < 0 for v in tokens))
        .then(3)
        .when(pl.any_horizontal(v > checks.MAX_ROW_TOKENS for v in tokens))
        .then(4)
        .otherwise(0)
        .fill_null(0)
        .cast(pl.Int8)
    )


def _skipped(checked: pl.DataFrame, path: Path, label: str) -> list[Notice]:
    """One notice per reason rows were skipped, naming their lines (bad rows only: slow path)."""
    bad = checked.filter(pl.col("_bad")).select(_ROW, "_why")
    lines = rawfiles.csv_row_lines(_read_bytes(path), bad.get_column(_ROW).to_list())
    tally = Tally("GitHub Copilot: skipped ")
    for code, line in zip(bad.get_column("_why").to_list(), lines, strict=True):
        reason = f"malformed {label} rows" if code == 1 else f"{label} rows with {_WHY[code]}"
        tally.add(reason, str(path), line)
    return tally.notices()


def _replaced_rows(raw: pl.DataFrame, names: list[str]) -> list[int]:
    """The rows whose cells held invalid UTF-8 (now U+FFFD)."""
    cells = [pl.col(n).str.contains("\ufffd", literal=True) for n in names]
    return raw.filter(pl.any_horizontal(cells)).get_column(_ROW).to_list() if cells else []


def _check_columns(
    path: Path,
    cols: dict[str, str],
    names: list[str],
    table: dict[str, tuple[str, ...]],
    label: str,
) -> None:
    """Refuse a report without its date or quantity column, or with only some token columns:
    reading it would lose part of every row."""
    missing = [table[c][0] for c in ("ts", "requests") if c not in cols]
    tokens = [c for c in _TOKEN_COLUMNS if c in table and c in cols]
    if tokens and len(tokens) < len(_TOKEN_COLUMNS):
        missing += [table[c][0] for c in _TOKEN_COLUMNS if c not in cols]
    if not missing:
        return
    known = set(cols.values())
    unknown = [n for n in names if n not in known and n not in _INFO_ONLY]
    raise InputError(
        f"{path}: a {label} without the column"
        + ("s " if len(missing) > 1 else " ")
        + ", ".join(repr(m) for m in missing)
        + (f"; other columns: {', '.join(map(repr, unknown))}" if unknown else ""),
        hint="Give the report as GitHub sent it, with its header line.",
    )


def _other_products(frame: pl.DataFrame, cols: dict[str, str]) -> pl.Series:
    """Rows of other GitHub products than Copilot and Spark (metered usage reports also list
    Actions, Packages, ...). Decided on the few distinct (product, sku) pairs first."""
    none = pl.repeat(False, frame.height, eager=True)
    if "_product" not in cols:
        return none
    product = _text(cols["_product"]).str.to_lowercase()
    sku = _text(cols.get("kind")).str.to_lowercase()
    other = ~(
        product.is_null()
        | product.is_in(_AI_PRODUCTS)
        | sku.str.contains(_AI_SKU_PATTERN).fill_null(False)
    )
    columns = [c for c in (cols["_product"], cols.get("kind")) if c is not None]
    if not frame.select(columns).unique().select(other.any()).item():
        return none
    return frame.select(other).to_series()


def _read_usage_csv(path: Path) -> tuple[pl.DataFrame, list[Notice]]:
    return _csv_rows(path, _USAGE_COLUMNS, prefix="usage", label="usage report")


def _read_premium_csv(path: Path) -> tuple[pl.DataFrame, list[Notice]]:
    return _csv_rows(
        path,
        _LEGACY_COLUMNS,
        prefix="premium",
        label="premium request analytics",
        kind=pl.lit(_LEGACY_KIND),
    )


# --------------------------------------------------------------------------- metrics JSON


class _TokenUsage(msgspec.Struct):
    prompt_tokens_sum: int | None = None
    output_tokens_sum: int | None = None


class _Cli(msgspec.Struct):
    token_usage: _TokenUsage | None = None


class _Named(msgspec.Struct):
    model: str | None = None


class _UserRecord(msgspec.Struct):
    """The fields of a usage-metrics user record that tokenlens reads; the rest is ignored."""

    day: str | None = None
    user_login: str | None = None
    user_id: int | str | None = None
    user_initiated_interaction_count: int | None = None
    loc_added_sum: int | None = None
    loc_deleted_sum: int | None = None
    totals_by_cli: _Cli | None = None
    totals_by_language_model: list[_Named] = msgspec.field(default_factory=list)
    totals_by_model_feature: list[_Named] = msgspec.field(default_factory=list)


class _Document(msgspec.Struct):
    """A whole JSON file: the wrapped mock (`day_totals`) or one bare record."""

    day_totals: list[msgspec.Raw] | None = None


_RECORD = msgspec.json.Decoder(_UserRecord, strict=False)
_DOCUMENT = msgspec.json.Decoder(_Document | list[msgspec.Raw], strict=False)

_USERS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "event_id": pl.String(),
    "day": pl.String(),
    "user": pl.String(),
    "model": pl.String(),
    "requests": pl.Float64(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "lines_added": pl.Int64(),
    "lines_removed": pl.Int64(),
}


def _json_items(data: bytes) -> list[bytes | msgspec.Raw]:
    """The records of a JSON document (an array, the wrapped mock or one record), else the
    non-blank lines of an NDJSON file."""
    body = data.removeprefix(detect.BOM)
    if _invalid_utf8(body):
        body = body.decode("utf-8", "replace").encode("utf-8")
    try:
        doc = _DOCUMENT.decode(body)
    except rawfiles.JSON_ERRORS:
        return [line for line in body.splitlines() if line.strip()]
    if isinstance(doc, list):
        return list(doc)
    return list(doc.day_totals) if doc.day_totals is not None else [body]


def _decode_all(path: Path, decoder: msgspec.json.Decoder[_T]) -> tuple[list[_T], int]:
    """Every record of a metrics file, and how many were malformed (not JSON, wrong types).

    A file of which no record can be read is not a metrics file: an InputError.
    """
    items = _json_items(_read_bytes(path))
    records: list[_T] = []
    for item in items:
        try:
            records.append(decoder.decode(item))
        except rawfiles.JSON_ERRORS:
            continue
    if items and not records:
        raise InputError(
            f"{path}: not JSON or JSON lines", hint="Save the report file as downloaded."
        )
    return records, len(items) - len(records)


def _single_model(names: Iterable[str | None]) -> str | None:
    """The model when the record names exactly one (the `others` bucket aside), else None."""
    found = {n for n in names if n and n != _OTHER_MODEL}
    return found.pop() if len(found) == 1 else None


def _read_users(path: Path) -> tuple[pl.DataFrame, list[Notice]]:
    """Usage-metrics user records: one row per user and day."""
    records, malformed = _decode_all(path, _RECORD)
    rows: list[tuple[Any, ...]] = []
    not_users = 0
    tally = Tally("GitHub Copilot: skipped metrics records with ")
    for rec in records:
        if not rec.user_login:
            not_users += 1
            continue
        who = rec.user_id if rec.user_id is not None and rec.user_id != "" else rec.user_login
        tokens = rec.totals_by_cli.token_usage if rec.totals_by_cli else None
        counts = (
            rec.user_initiated_interaction_count,
            rec.loc_added_sum,
            rec.loc_deleted_sum,
            *((tokens.prompt_tokens_sum, tokens.output_tokens_sum) if tokens else ()),
        )
        problem = checks.first_token_problem(counts, checks.MAX_ROW_TOKENS)
        if problem:
            tally.add(problem.replace("token count", "count"), str(path))
            continue
        rows.append(
            (
                f"{_USERS_KIND}|{rec.day}|{who}",
                rec.day,
                rec.user_login,
                _single_model(
                    m.model for m in (*rec.totals_by_language_model, *rec.totals_by_model_feature)
                ),
                rec.user_initiated_interaction_count,
                tokens.prompt_tokens_sum if tokens else None,
                tokens.output_tokens_sum if tokens else None,
                rec.loc_added_sum,
                rec.loc_deleted_sum,
            )
        )
    frame = pl.DataFrame(rows, schema=_USERS_SCHEMA, orient="row").with_columns(
        kind=pl.lit(_USERS_KIND)
    )
    notices = tally.notices()
    if not_users:
        notices.append(
            Notice(
                "GitHub Copilot: skipped organization/enterprise-level metrics records "
                "(tokenlens reads the users-1-day and users-28-day reports)",
                not_users,
                str(path),
            )
        )
    return _finish_json(frame, path, malformed, notices)


def _finish_json(
    frame: pl.DataFrame, path: Path, malformed: int, notices: list[Notice]
) -> tuple[pl.DataFrame, list[Notice]]:
    """Day strings to timestamps, as_of, and the canonical schema; bad days are malformed."""
    typed = frame.with_columns(ts=_parse_times(frame.get_column("day")))
    bad = typed.get_column("ts").null_count()
    rows = schema.conform(
        typed.lazy()
        .filter(pl.col("ts").is_not_null())
        .with_columns(
            source=pl.lit(SOURCE),
            origin=pl.lit(str(path)),
            as_of=pl.col("ts").max(),
        )
    ).collect()
    if malformed + bad:
        notices.insert(
            0,
            Notice("GitHub Copilot: skipped malformed metrics records", malformed + bad, str(path)),
        )
    return rows, notices


# A count in a legacy metrics day: whole, not negative, not absurd (else the day is malformed).
_Count = Annotated[int, msgspec.Meta(ge=0, le=checks.MAX_ROW_TOKENS)]


class _Language(msgspec.Struct):
    total_code_lines_accepted: _Count = 0


class _CompletionModel(msgspec.Struct):
    name: str | None = None
    languages: list[_Language] = msgspec.field(default_factory=list)


class _ChatModel(msgspec.Struct):
    name: str | None = None
    total_chats: _Count = 0


class _Editor(msgspec.Struct):
    models: list[_CompletionModel] = msgspec.field(default_factory=list)


class _ChatEditor(msgspec.Struct):
    models: list[_ChatModel] = msgspec.field(default_factory=list)


class _Completions(msgspec.Struct):
    editors: list[_Editor] = msgspec.field(default_factory=list)


class _IdeChat(msgspec.Struct):
    editors: list[_ChatEditor] = msgspec.field(default_factory=list)


class _DotcomChat(msgspec.Struct):
    models: list[_ChatModel] = msgspec.field(default_factory=list)


class _LegacyDay(msgspec.Struct):
    """The fields of a legacy `/copilot/metrics` day that tokenlens reads."""

    date: str | None = None
    copilot_ide_code_completions: _Completions | None = None
    copilot_ide_chat: _IdeChat | None = None
    copilot_dotcom_chat: _DotcomChat | None = None


_LEGACY_DAY = msgspec.json.Decoder(_LegacyDay, strict=False)
_LEGACY_SCHEMA: Final[dict[str, pl.DataType]] = {
    "event_id": pl.String(),
    "day": pl.String(),
    "model": pl.String(),
    "requests": pl.Float64(),
    "lines_added": pl.Int64(),
}


def _legacy_row(day: _LegacyDay) -> tuple[Any, ...]:
    completions = day.copilot_ide_code_completions or _Completions()
    ide_chat = day.copilot_ide_chat or _IdeChat()
    dotcom_chat = day.copilot_dotcom_chat or _DotcomChat()
    chat_models = [m for e in ide_chat.editors for m in e.models] + dotcom_chat.models
    completion_models = [m for e in completions.editors for m in e.models]
    names = [m.name for m in completion_models] + [m.name for m in chat_models]
    return (
        f"{_LEGACY_METRICS_KIND}|{day.date}",
        day.date,
        _single_model(names),
        float(sum(m.total_chats for m in chat_models)),
        sum(lang.total_code_lines_accepted for m in completion_models for lang in m.languages),
    )


def _read_legacy_metrics(path: Path) -> tuple[pl.DataFrame, list[Notice]]:
    """Legacy organization metrics: one row per day."""
    days, malformed = _decode_all(path, _LEGACY_DAY)
    rows = [_legacy_row(day) for day in days]
    frame = pl.DataFrame(rows, schema=_LEGACY_SCHEMA, orient="row").with_columns(
        user=pl.lit(ORG_USER), kind=pl.lit(_LEGACY_METRICS_KIND)
    )
    return _finish_json(frame, path, malformed, [])


_READERS: Final[dict[str, Callable[[Path], tuple[pl.DataFrame, list[Notice]]]]] = {
    "copilot_usage_csv": _read_usage_csv,
    "copilot_premium_csv": _read_premium_csv,
    "copilot_metrics_users": _read_users,
    "copilot_metrics_legacy": _read_legacy_metrics,
}
