"""Where a command's rows come from: files named on the command line, the store, or local logs."""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from tokenlens.errors import InputError, Notice

if TYPE_CHECKING:
    import polars as pl

    from tokenlens.config import Config
    from tokenlens.loaders.base import Scan
    from tokenlens.loaders.detect import Classified


@dataclass
class Loaded:
    """Rows ready for analysis (STORED schema, priced) and what to say about them."""

    rows: pl.LazyFrame
    notices: list[Notice] = field(default_factory=list)
    origin: str = ""
    empty: frozenset[str] = frozenset()  # stored columns known to hold no value in any row
    parts: list[pl.LazyFrame] = field(default_factory=list)  # `rows` in parts (`Read.parts`)


def skipped_hint(notices: list[Notice]) -> str | None:
    """What was skipped, when a search found nothing to read: the first reason and where."""
    if not notices:
        return None
    first = notices[0]
    count = f" ({first.count})" if first.count is not None else ""
    where = f" [{first.path}]" if first.path else ""
    more = f"; and {len(notices) - 1} more reasons" if len(notices) > 1 else ""
    return f"Found only what was skipped: {first.message}{count}{where}{more}."


def resolve_user(option: str | None, cfg: Config) -> str:
    from tokenlens import config

    return option or os.environ.get("TOKENLENS_USER", "").strip() or cfg.user or config.os_user()


def overrides(cfg: Config) -> Any:
    from tokenlens import pricing

    return pricing.Overrides(
        models=cfg.price_models, aliases=cfg.price_aliases, discount=cfg.price_discount
    )


def warm_imports() -> None:
    """Import the analysis stack and load the price data (run while files are being read)."""
    from tokenlens import pricing
    from tokenlens.analysis import totals  # noqa: F401
    from tokenlens.loaders import claude_code  # noqa: F401

    pricing.warm()


# Formats whose rows carry request counts, costs or lines but (nearly) never tokens to price.
_PRICED_RARELY: frozenset[str] = frozenset(
    {
        "copilot_premium_csv",
        "copilot_usage_csv",
        "copilot_metrics_users",
        "copilot_metrics_legacy",
        "cursor_daily",
    }
)


def _warm_prices_meanwhile() -> None:
    """Load the price data in a thread while exports are parsed (the parser releases the GIL).

    A failure here is left for pricing itself to report.
    """
    import threading

    from tokenlens import pricing

    def warm() -> None:
        with contextlib.suppress(Exception):
            pricing.warm()

    threading.Thread(target=warm, name="tokenlens-prices", daemon=True).start()


def classify(paths: list[Path], source: str | None) -> Classified:
    from tokenlens.loaders import detect

    return detect.classify(paths, force=source)


def discover(source: str | None = None) -> Classified:
    """The local logs of this machine (Claude Code, Codex, Gemini), grouped by format."""
    from tokenlens.loaders import claude_lines, detect

    roots = detect.local_roots()
    out = detect.Classified()
    for fmt, folders in roots.items():
        if source and fmt not in detect.SOURCE_FORMATS.get(source, ()):
            continue
        if fmt == "claude_code":  # every *.jsonl under projects/, no sniffing needed
            files = claude_lines.find_files(folders)
            if files:
                out.by_format[fmt] = files
                out.roots.extend(folders)
        else:
            found = detect.classify(folders, force=fmt)
            out.by_format.update(found.by_format)
            out.notices.extend(found.notices)
            out.roots.extend(found.roots)
    return out


def _scan_group(module: Any, files: list[Path], explicit: set[Path], user: str) -> Scan:
    """One loader over its files; a bad file inside a folder is skipped, a named one refused.

    When a file is refused, the others are read one by one and merged by the source's own
    identity rule, so rows that several files share still count once.
    """
    try:
        return module.scan(files, user=user)  # type: ignore[no-any-return]
    except InputError:
        if len(files) == 1 and files[0] in explicit:
            raise
    import polars as pl

    from tokenlens.loaders import detect
    from tokenlens.loaders.base import Scan as ScanType

    good: list[Scan] = []
    skipped: list[Notice] = []
    for file in files:
        try:
            good.append(module.scan([file], user=user))
        except InputError as exc:
            if file in explicit:
                raise
            skipped.append(Notice(detect.skipped_reason(file, exc), 1, str(file)))
    notices = [n for scan in good for n in scan.notices] + skipped
    if not good:
        from tokenlens.schema import USAGE, empty

        return ScanType("skipped", empty(USAGE).lazy(), notices)
    frame = module.dedupe(pl.concat([scan.frame for scan in good], how="vertical"))
    read_files = [f for scan in good for f in scan.files]
    return ScanType(good[0].source, frame.collect().lazy(), notices, read_files)


@dataclass
class Read:
    """Rows read from files, with the identity rule of each source they hold."""

    frame: pl.LazyFrame
    notices: list[Notice]
    files: list[Path]
    merges: dict[str, Any]
    # `frame` in parts that share no event, when a loader read in parts (else empty): each
    # part can be priced and added up alone, so that a report holds one part's rows at a time.
    parts: list[pl.LazyFrame] = field(default_factory=list)


def read(classified: Classified, *, user: str) -> Read:
    """Read classified files into one canonical frame (Claude Code first, before polars loads)."""
    groups = dict(classified.by_format)
    notices = list(classified.notices)
    scans: list[Scan] = []
    merges: dict[str, Any] = {}
    claude_files = groups.pop("claude_code", [])
    if claude_files:
        from tokenlens.loaders import claude_batches

        scans.append(claude_batches.scan(claude_files, user=user, meanwhile=warm_imports))
        from tokenlens.loaders import claude_code  # polars: only once the files are read

        merges[claude_code.SOURCE] = claude_code.dedupe
    if not claude_files and set(groups) - _PRICED_RARELY:
        _warm_prices_meanwhile()
    import polars as pl

    from tokenlens import loaders

    by_module: dict[str, list[Path]] = {}
    for fmt, files in groups.items():
        by_module.setdefault(loaders.MODULES[fmt], []).extend(files)
    for fmt_module, files in by_module.items():
        module = importlib.import_module(fmt_module)
        scans.append(_scan_group(module, sorted(set(files)), classified.explicit, user))
        merges.update(dict.fromkeys(module.SOURCES, module.dedupe))
    for scan in scans:
        notices.extend(scan.notices)
    from tokenlens import schema

    frames = [scan.frame for scan in scans] or [schema.empty(schema.USAGE).lazy()]
    frame = pl.concat(frames, how="vertical")
    notices.extend(_date_notices(frame))
    read_files = [f for scan in scans for f in scan.files]
    parts: list[pl.LazyFrame] = []
    if any(scan.parts for scan in scans):
        parts = [p for scan in scans for p in scan.parts]
        whole = [scan.frame for scan in scans if not scan.parts]
        parts += [pl.concat(whole, how="vertical")] if whole else []
    return Read(frame, shown(notices, classified.roots), read_files, merges, parts)


def _date_notices(frame: pl.LazyFrame) -> list[Notice]:
    """Rows dated in the future or before 2020 are kept, and counted per file: a wrong clock or
    a damaged export, not something to drop silently or to sum silently."""
    import polars as pl

    from tokenlens.loaders.checks import EARLIEST

    future = datetime.now(UTC) + timedelta(days=1)
    ts = pl.col("ts")
    odd = (ts > future) | (ts < EARLIEST)
    # The files are looked up only when some row needs them: most reads have none.
    if not frame.select(odd.any()).collect().item():
        return []
    counts = (
        frame.select("ts", "origin")
        .filter(odd)
        .group_by("origin", maintain_order=True)
        .agg(future=(ts > future).sum(), early=(ts < EARLIEST).sum())
        .collect()
    )
    out = []
    for origin, late, early in counts.iter_rows():
        if late:
            out.append(Notice("rows dated in the future (kept)", late, origin))
        if early:
            out.append(Notice("rows dated before 2020 (kept)", early, origin))
    return out


# Notices of one kind naming files: how many are listed before the rest are summed up.
FILES_SHOWN = 10


def shown(notices: list[Notice], roots: list[Path]) -> list[Notice]:
    """Notices as the user reads them: a file inside a folder named on the command line is shown
    as that folder's name and the path inside it (`exports/cursor/team.csv:14`), never as an
    absolute path; past `FILES_SHOWN` files of one kind, the rest are one summed notice."""
    ordered = sorted(roots, key=lambda r: len(r.parts), reverse=True)
    per_message: dict[str, int] = {}
    rest: dict[str, tuple[int, int]] = {}
    out: list[Notice] = []
    for n in notices:
        if n.path is None:
            out.append(n)
            continue
        seen = per_message.get(n.message, 0)
        per_message[n.message] = seen + 1
        if seen < FILES_SHOWN:
            out.append(Notice(n.message, n.count, _relative(n.path, ordered)))
        else:
            files, count = rest.get(n.message, (0, 0))
            rest[n.message] = (files + 1, count + (n.count or 0))
    for message, (files, count) in rest.items():
        out.append(Notice(f"{message} (in {files:,} more files)", count))
    return out


def _relative(where: str, roots: list[Path]) -> str:
    """`where` (a path, maybe with `:line`) inside one of `roots`, as `<root name>/<inside>`."""
    place = PurePath(where)
    for root in roots:
        try:
            inside = place.relative_to(root)
        except ValueError:
            continue
        name = root.name if root.name not in ("", ".", "..") else ""
        return str(PurePath(name, inside)) if name else str(inside)
    return where


def load(
    paths: list[Path] | None,
    store: Path | None,
    *,
    user: str | None,
    source: str | None,
    cfg: Config,
) -> Loaded:
    """PATHs when given; else the store; else, with the default store empty, local logs."""
    who = resolve_user(user, cfg)
    if paths:
        found = classify(paths, source)
        if not found.by_format:
            shown = ", ".join(str(p) for p in paths)
            raise InputError(
                f"no usage logs or exports found under {shown}",
                hint=skipped_hint(found.notices)
                or "Give Claude Code transcripts (~/.claude/projects), or export files "
                "(Cursor, Copilot, Anthropic CSV/JSON); `tokenlens sources` lists them.",
            )
        got = read(found, user=who)
        return _priced(got, cfg, "paths")
    from tokenlens import config, pricing, schema
    from tokenlens.store import Store

    explicit = store is not None
    target = Store(store or config.default_store())
    if explicit or not target.is_empty():
        if explicit and not target.root.exists():
            raise InputError(
                f"store {target.root} does not exist",
                hint="Run `tokenlens ingest --store DIR` first, or check the path.",
            )
        rows, parts = target.scan_parts()
        empty = target.empty_columns()
        ov = overrides(cfg)
        if target.price_versions() - {pricing.price_version(ov)}:
            stale = ["computed_cost_usd", "price_version"]
            rows, parts, notices = _price(rows.drop(stale), [p.drop(stale) for p in parts], ov)
            return Loaded(rows, notices, f"store {target.root}", empty - set(stale), parts)
        # Rows priced at ingest: the models that found no price are named again here.
        tokenless = set(schema.TOKENS) <= empty
        lacking = [] if tokenless else pricing.unpriced_models(rows)
        notices = [pricing.unpriced_notice(lacking)] if lacking else []
        return Loaded(rows, notices, f"store {target.root}", empty, parts)
    found = discover(source)
    if not found.by_format:
        raise InputError(
            "nothing to report: the store is empty and no local logs were found",
            hint="Give paths (tokenlens report ~/.claude/projects) or run `tokenlens ingest`.",
        )
    got = read(found, user=who)
    return _priced(got, cfg, "local logs")


def _priced(got: Read, cfg: Config, origin: str) -> Loaded:
    rows, parts, notices = _price(got.frame, got.parts, overrides(cfg))
    return Loaded(rows, [*got.notices, *notices], origin, parts=parts)


def _price(
    rows: pl.LazyFrame, parts: list[pl.LazyFrame], ov: Any
) -> tuple[pl.LazyFrame, list[pl.LazyFrame], list[Notice]]:
    """Rows priced, and their parts when they have some (each priced on its own; the rows are
    then the parts together)."""
    from tokenlens import pricing

    if not parts:
        priced, notices = pricing.price(rows, overrides=ov)
        return priced, [], notices
    import polars as pl

    parts, notices = pricing.price_parts(parts, overrides=ov)
    return pl.concat(parts, how="vertical"), parts, notices


@dataclass
class Selection:
    """Priced rows after identities, filters and the period; what every analysis starts from."""

    rows: pl.LazyFrame
    notices: list[Notice]
    cfg: Config
    tz: str
    start: Any  # date | None
    end: Any  # date | None: the period's last day (--until, else the last event)
    filters: dict[str, Any]
    empty: frozenset[str] = frozenset()  # stored columns known to hold no value in any row
    parts: list[pl.LazyFrame] = field(default_factory=list)  # `rows` in parts (`Read.parts`)


def select(
    paths: list[Path] | None,
    *,
    store: Path | None,
    user: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: list[str] | None,
    models: list[str] | None,
    projects: list[str] | None,
    cost_mode: str,
    config_file: Path | None,
) -> Selection:
    """Load rows, price them under the cost mode, map identities, filter, and fix the period."""
    from tokenlens import config

    cfg = config.load(config_file)
    zone = tz or config.local_timezone()
    config.check_timezone(zone)
    forced = sources[0] if paths and sources and len(sources) == 1 else None
    loaded = load(paths, store, user=user, source=forced, cfg=cfg)
    from tokenlens import pricing
    from tokenlens.analysis import filters, identity
    from tokenlens.cli.common import parse_day

    who = [cfg.user_aliases.get(user, user)] if user else None

    def selected(lf: pl.LazyFrame) -> pl.LazyFrame:
        lf = pricing.with_cost(lf, cost_mode)  # type: ignore[arg-type]
        lf = identity.apply_identities(lf, aliases=cfg.user_aliases, teams=cfg.teams)
        return filters.apply(lf, sources=sources, models=models, projects=projects, users=who)

    rows = selected(loaded.rows)
    last = filters.last_day(rows, zone)
    end = parse_day(until, anchor=last, option="--until")
    start = parse_day(since, anchor=end or last, option="--since")
    parts = [
        filters.apply(selected(part), since=start, until=end, tz=zone) for part in loaded.parts
    ]
    rows = filters.apply(rows, since=start, until=end, tz=zone)
    rows = rows if parts else rows.cache()
    shown = {
        "since": start,
        "until": end,
        "tz": zone,
        "source": sources or None,
        "model": models or None,
        "project": projects or None,
        "user": user,
        "cost_mode": cost_mode,
    }
    return Selection(
        rows, loaded.notices, cfg, zone, start, end or last, shown, loaded.empty, parts
    )
