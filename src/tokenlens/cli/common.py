"""What the commands share: options, input resolution (paths, store, discovery) and output."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tokenlens.errors import InputError, Notice, TokenlensError

if TYPE_CHECKING:
    import polars as pl

    from tokenlens.config import Config


class Format(str, Enum):
    table = "table"
    json = "json"
    ndjson = "ndjson"
    csv = "csv"
    markdown = "markdown"


class CostModeOpt(str, Enum):
    auto = "auto"
    calculate = "calculate"
    reported = "reported"


PATHS = typer.Argument(
    None, help="Logs or exports to read directly (files or folders). Default: the store."
)
STORE = typer.Option(
    None, "--store", envvar="TOKENLENS_STORE", help="Store folder.", show_default=False
)
USER = typer.Option(
    None,
    "--user",
    help="Name for rows from local logs (they name no user); also filters by user.",
)
SINCE = typer.Option(None, "--since", help="First day, inclusive: YYYY-MM-DD or relative (7d, 4w).")
UNTIL = typer.Option(None, "--until", help="Last day, inclusive: YYYY-MM-DD or relative (7d).")
TZ = typer.Option(None, "--tz", help="Time zone for day/week/month buckets. Default: local.")
SOURCE = typer.Option(None, "--source", help="Only these sources (repeatable).")
MODEL = typer.Option(None, "--model", help="Only models containing this text (repeatable).")
PROJECT = typer.Option(None, "--project", help="Only projects containing this text (repeatable).")
FORMAT = typer.Option(Format.table, "--format", "-f", help="Output format.")
JSON = typer.Option(False, "--json", help="Shorthand for --format json.")
COST_MODE = typer.Option(
    CostModeOpt.auto,
    "--cost-mode",
    help="auto: vendor-reported cost where given, else computed; calculate; reported.",
)
CONFIG = typer.Option(None, "--config", envvar="TOKENLENS_CONFIG", help="Config file (TOML).")

_RELATIVE = re.compile(r"^(\d+)([dw])$")


def parse_day(value: str | None, *, anchor: date | None, option: str) -> date | None:
    """A calendar date, or a relative one (`7d`, `2w`) counted back from `anchor`."""
    if value is None:
        return None
    text = value.strip().lower()
    match = _RELATIVE.match(text)
    if match:
        if anchor is None:
            return None
        amount = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return anchor - timedelta(days=max(amount - 1, 0))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or a relative period (7d, 4w)",
            param_hint=option,
        ) from None


def is_relative(value: str | None) -> bool:
    return value is not None and bool(_RELATIVE.match(value.strip().lower()))


@dataclass
class Loaded:
    """Rows ready for analysis, and what the commands say about them."""

    rows: pl.LazyFrame  # STORED schema, priced
    notices: list[Notice] = field(default_factory=list)
    origin: str = ""


def resolve_user(option: str | None, cfg: Config) -> str:
    from tokenlens import config

    return option or cfg.user or config.os_user()


def overrides(cfg: Config) -> Any:
    from tokenlens import pricing

    return pricing.Overrides(
        models=cfg.price_models, aliases=cfg.price_aliases, discount=cfg.price_discount
    )


def scan_paths(paths: list[Path], *, user: str) -> tuple[Any, list[Path]]:
    """Read local logs or exports named on the command line (Claude Code transcripts).

    The files are read before polars is imported, so reader processes fork light.
    """
    from tokenlens.loaders import claude_lines

    for path in paths:
        if not path.exists():
            raise InputError(
                f"{path}: no such file or folder",
                hint="Check the path; give a ~/.claude/projects tree, a project folder or files.",
            )
    files, chunk = claude_lines.read_records(paths, meanwhile=warm_imports)
    from tokenlens.loaders import claude_code

    scan = claude_code.to_scan(files, chunk, user=user)
    if not scan.files:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(
            f"no Claude Code transcripts (*.jsonl) under {shown}",
            hint="Point at ~/.claude/projects, a project folder in it, or .jsonl files.",
        )
    return scan, scan.files


def warm_imports() -> None:
    """Import the analysis stack and load the price data (used while files are being read)."""
    from tokenlens import pricing
    from tokenlens.analysis import totals  # noqa: F401
    from tokenlens.loaders import claude_code  # noqa: F401

    pricing.warm()


def local_roots() -> list[Path]:
    from tokenlens.loaders import claude_lines

    return claude_lines.default_roots()


def load(
    paths: list[Path] | None,
    store: Path | None,
    *,
    user: str | None,
    cfg: Config,
) -> Loaded:
    """PATHs when given; else the store; else, with the default store empty, local logs."""
    notices: list[Notice]
    if paths:
        scan, _ = scan_paths(paths, user=resolve_user(user, cfg))
        from tokenlens import pricing

        ov = overrides(cfg)
        priced, notices = pricing.price(scan.frame, overrides=ov)
        return Loaded(priced, [*scan.notices, *notices], "paths")
    from tokenlens import config, pricing
    from tokenlens.store import Store

    ov = overrides(cfg)
    explicit = store is not None
    target = Store(store or config.default_store())
    if explicit or not target.is_empty():
        if explicit and not target.root.exists():
            raise InputError(
                f"store {target.root} does not exist",
                hint="Run `tokenlens ingest --store DIR` first, or check the path.",
            )
        rows = target.scan()
        notices = []
        current = pricing.price_version(ov)
        if target.price_versions() - {current}:
            rows, notices = pricing.price(
                rows.drop("computed_cost_usd", "price_version"), overrides=ov
            )
        return Loaded(rows, notices, f"store {target.root}")
    roots = local_roots()
    if not roots:
        raise InputError(
            "nothing to report: the store is empty and no Claude Code logs were found",
            hint="Give paths (tokenlens report ~/.claude/projects) or run `tokenlens ingest`.",
        )
    scan, _ = scan_paths(roots, user=resolve_user(user, cfg))
    priced, notices = pricing.price(scan.frame, overrides=ov)
    return Loaded(priced, [*scan.notices, *notices], "local logs")


def emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def warn_all(notices: list[Notice]) -> None:
    from tokenlens.render import console

    for n in notices:
        suffix = f" ({n.count:,})" if n.count is not None else ""
        where = f" [{n.path}]" if n.path else ""
        console.warn(f"{n.message}{suffix}{where}")


def fail(message: str, hint: str) -> TokenlensError:
    return TokenlensError(message, hint)


def terminal_width() -> int:
    try:
        return int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size().columns
    except (ValueError, OSError):
        return 120


def period_label(start: date | None, end: date | None, first: Any, last: Any, tz: str) -> str:
    """`2025-09-01 → 2025-09-30 (UTC)` from the filter, else from the data."""
    from tokenlens.analysis import exprs  # noqa: F401  (keeps polars out of --help)

    def local(value: Any) -> date | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo

        return value.astimezone(ZoneInfo(tz)).date()  # type: ignore[no-any-return]

    a = start or local(first)
    b = end or local(last)
    if a is None or b is None:
        return f"no data ({tz})"
    return f"{a} → {b} ({tz})"


def emit_frame(
    output: Format,
    *,
    command: str,
    generated: Any,
    filters: dict[str, Any],
    group_by: list[str],
    totals: dict[str, Any] | None,
    rows: pl.DataFrame,
    notices: list[Notice],
    title: str | None = None,
) -> None:
    """Write rows in a machine format (or Markdown) to stdout."""
    from tokenlens.render import flat, jsonout

    if output is Format.json:
        emit(
            jsonout.envelope(
                command=command,
                generated_at=generated,
                filters=filters,
                group_by=group_by,
                totals=totals,
                rows=rows,
                warnings=notices,
            )
        )
    elif output is Format.ndjson:
        emit(jsonout.ndjson(rows))
    elif output is Format.csv:
        emit(flat.to_csv(rows))
    else:
        emit(flat.to_markdown(rows, title=title))
