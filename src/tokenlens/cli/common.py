"""What the commands share: options, input resolution (paths, store, discovery) and output."""

from __future__ import annotations

import re
import sys
from datetime import date, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

import typer

from tokenlens.errors import Notice, TokenlensError

if TYPE_CHECKING:
    import polars as pl


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
    None,
    help="Logs or exports to read directly (files or folders). Default: the store.",
    readable=False,  # an unreadable file gets tokenlens' own Error and Hint lines, exit 1
)
STORE = typer.Option(
    None, "--store", envvar="TOKENLENS_STORE", help="Store folder.", show_default=False
)
USER = typer.Option(
    None,
    "--user",
    help="Whose usage: names rows from local logs (which name no user; default "
    "TOKENLENS_USER, the config's user, else the login) and keeps only that user's rows.",
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


def emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def warn_all(notices: list[Notice]) -> None:
    if not notices:
        return
    from tokenlens.render import console

    for n in notices:
        suffix = f" ({n.count:,})" if n.count is not None else ""
        where = f" [{n.path}]" if n.path else ""
        console.warn(f"{n.message}{suffix}{where}")


def fail(message: str, hint: str) -> TokenlensError:
    return TokenlensError(message, hint)


def period_label(start: date | None, end: date | None, first: Any, last: Any, tz: str) -> str:
    """`2025-09-01 → 2025-09-30 (UTC)` from the filter, else from the data."""

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


# Larger JSON documents are written compact unless stdout is a terminal (indenting is slow).
PRETTY_MAX_ROWS = 500


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
                pretty=sys.stdout.isatty() or rows.height <= PRETTY_MAX_ROWS,
            )
        )
    elif output is Format.ndjson:
        emit(jsonout.ndjson(rows))
    elif output is Format.csv:
        emit(flat.to_csv(rows))
    else:
        emit(flat.to_markdown(rows, title=title))
