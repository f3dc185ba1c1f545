"""Where a command's rows come from: files named on the command line, the store, or local logs."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
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
        else:
            found = detect.classify(folders, force=fmt)
            out.by_format.update(found.by_format)
            out.notices.extend(found.notices)
    return out


def _scan_group(module: Any, files: list[Path], explicit: set[Path], user: str) -> list[Scan]:
    """One loader over its files; a bad file inside a folder is skipped, a named one refused."""
    try:
        return [module.scan(files, user=user)]
    except InputError:
        if len(files) == 1 and files[0] in explicit:
            raise
    from tokenlens.loaders.base import Scan as ScanType
    from tokenlens.schema import USAGE, empty

    scans: list[Scan] = []
    for file in files:
        try:
            scans.append(module.scan([file], user=user))
        except InputError as exc:
            if file in explicit:
                raise
            skipped = [Notice(exc.message, 1, str(file))]
            scans.append(ScanType("skipped", empty(USAGE).lazy(), skipped))
    return scans


@dataclass
class Read:
    """Rows read from files, with the identity rule of each source they hold."""

    frame: pl.LazyFrame
    notices: list[Notice]
    files: list[Path]
    merges: dict[str, Any]


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
    import polars as pl

    from tokenlens import loaders

    by_module: dict[str, list[Path]] = {}
    for fmt, files in groups.items():
        by_module.setdefault(loaders.MODULES[fmt], []).extend(files)
    for fmt_module, files in by_module.items():
        module = importlib.import_module(fmt_module)
        scans.extend(_scan_group(module, sorted(set(files)), classified.explicit, user))
        merges.update(dict.fromkeys(module.SOURCES, module.dedupe))
    for scan in scans:
        notices.extend(scan.notices)
    from tokenlens import schema

    frames = [scan.frame for scan in scans] or [schema.empty(schema.USAGE).lazy()]
    read_files = [f for scan in scans for f in scan.files]
    return Read(pl.concat(frames, how="vertical"), notices, read_files, merges)


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
                hint="Give Claude Code transcripts (~/.claude/projects), or export files "
                "(Cursor, Copilot, Anthropic CSV/JSON); `tokenlens sources` lists them.",
            )
        got = read(found, user=who)
        return _priced(got.frame, got.notices, cfg, "paths")
    from tokenlens import config, pricing
    from tokenlens.store import Store

    explicit = store is not None
    target = Store(store or config.default_store())
    if explicit or not target.is_empty():
        if explicit and not target.root.exists():
            raise InputError(
                f"store {target.root} does not exist",
                hint="Run `tokenlens ingest --store DIR` first, or check the path.",
            )
        rows = target.scan()
        ov = overrides(cfg)
        if target.price_versions() - {pricing.price_version(ov)}:
            unpriced = rows.drop("computed_cost_usd", "price_version")
            rows, notices = pricing.price(unpriced, overrides=ov)
            return Loaded(rows, notices, f"store {target.root}")
        return Loaded(rows, [], f"store {target.root}")
    found = discover(source)
    if not found.by_format:
        raise InputError(
            "nothing to report: the store is empty and no local logs were found",
            hint="Give paths (tokenlens report ~/.claude/projects) or run `tokenlens ingest`.",
        )
    got = read(found, user=who)
    return _priced(got.frame, got.notices, cfg, "local logs")


def _priced(frame: pl.LazyFrame, notices: list[Notice], cfg: Config, origin: str) -> Loaded:
    from tokenlens import pricing

    priced, price_notices = pricing.price(frame, overrides=overrides(cfg))
    return Loaded(priced, [*notices, *price_notices], origin)


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

    rows = pricing.with_cost(loaded.rows, cost_mode)  # type: ignore[arg-type]
    rows = identity.apply_identities(rows, aliases=cfg.user_aliases, teams=cfg.teams)
    who = [cfg.user_aliases.get(user, user)] if user else None
    rows = filters.apply(rows, sources=sources, models=models, projects=projects, users=who)
    last = filters.last_day(rows, zone)
    end = parse_day(until, anchor=last, option="--until")
    start = parse_day(since, anchor=end or last, option="--since")
    rows = filters.apply(rows, since=start, until=end, tz=zone).cache()
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
    return Selection(rows, loaded.notices, cfg, zone, start, end or last, shown)
