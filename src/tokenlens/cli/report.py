"""`tokenlens report`: totals, cost and efficiency, grouped any way."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tokenlens.cli import common, inputs
from tokenlens.cli.app import app

if TYPE_CHECKING:
    import polars as pl


class GroupBy(str, Enum):
    day = "day"
    week = "week"
    month = "month"
    source = "source"
    model = "model"
    model_family = "model_family"
    user = "user"
    team = "team"
    project = "project"
    session = "session"


@app.command()
def report(
    paths: list[Path] | None = common.PATHS,
    by: list[GroupBy] | None = typer.Option(
        None, "--by", help="Group rows by this key (repeatable; order kept)."
    ),
    store: Path | None = common.STORE,
    user: str | None = common.USER,
    since: str | None = common.SINCE,
    until: str | None = common.UNTIL,
    tz: str | None = common.TZ,
    source: list[str] | None = common.SOURCE,
    model: list[str] | None = common.MODEL,
    project: list[str] | None = common.PROJECT,
    fmt: common.Format = common.FORMAT,
    json_: bool = common.JSON,
    cost_mode: common.CostModeOpt = common.COST_MODE,
    blended_price: float | None = typer.Option(
        None,
        "--blended-price",
        min=0,
        help="Also show what the tokens would cost at this one flat USD per million tokens.",
    ),
    config_file: Path | None = common.CONFIG,
) -> None:
    """Report tokens, cost, $/Mtok and cache-hit ratio, by day and model or any --by keys."""
    sel = inputs.select(
        paths,
        store=store,
        user=user,
        since=since,
        until=until,
        tz=tz,
        sources=source,
        models=model,
        projects=project,
        cost_mode=cost_mode.value,
        config_file=config_file,
    )
    from tokenlens.analysis import totals

    keys = list(dict.fromkeys(k.value for k in by or []))  # a key given twice groups once
    # The totals take one pass over the source. The table's further summaries read memory, not
    # the files again, holding only the columns they use.
    unused = _unused(keys, fmt, json_)
    rows, zone = sel.rows.drop(unused, strict=False), sel.tz
    # Rows read in parts are added up a part at a time, so only one part's rows are held.
    parts = [part.drop(unused, strict=False) for part in sel.parts]
    if not json_ and fmt is common.Format.table and not parts:
        rows = rows.collect().lazy()

    def grand_and_grouped(by: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
        if parts:
            return totals.grand_and_grouped_parts(
                parts, by=by, tz=zone, blended_usd_per_mtok=blended_price, empty=sel.empty
            )
        return totals.grand_and_grouped(
            rows, by=by, tz=zone, blended_usd_per_mtok=blended_price, empty=sel.empty
        )

    # The grand total comes with the first grouping (by day when no --by is given).
    first_keys = keys or ["day"]
    grand, grouped = grand_and_grouped(first_keys)
    overall = grand.row(0, named=True)
    generated = datetime.now(UTC)
    shown_filters = {**sel.filters, "blended_price": blended_price}
    start, end = sel.filters["since"], sel.filters["until"]
    from tokenlens.analysis import exprs
    from tokenlens.errors import Notice

    notices = list(sel.notices)
    for a, b, shared in exprs.overlaps(rows, zone):
        notices.append(
            Notice(
                f"{a} and {b} both hold usage of the same users on the same days, which may be "
                f"the same usage counted twice; use --source to keep one",
                shared,
            )
        )
    output = common.Format.json if json_ else fmt
    common.warn_all(notices)
    if output is common.Format.table:
        from tokenlens.render import report as view
        from tokenlens.render.console import stdout

        first, final = totals.bounds(rows)
        period = common.period_label(start, end, first, final, zone)
        if keys:
            sections = [("", keys, grouped)]
        else:
            sections = [
                ("By day", ["day"], grouped),
                (
                    "By model",
                    ["model"],
                    grand_and_grouped(["model"])[1]
                    if parts
                    else totals.totals(
                        rows,
                        by=["model"],
                        tz=zone,
                        blended_usd_per_mtok=blended_price,
                        empty=sel.empty,
                    ),
                ),
            ]
        view.render(stdout(), period=period, totals=overall, sections=sections)
        return
    common.emit_frame(
        output,
        command="report",
        generated=generated,
        filters=shown_filters,
        group_by=first_keys,
        totals=overall,
        rows=grouped,
        notices=notices,
    )


def _unused(keys: list[str], fmt: common.Format, json_: bool) -> list[str]:
    """Columns no summary of this report reads."""
    unused = ["event_id", "origin", "price_version", "as_of", "kind"]
    table_sections = not keys and not json_ and fmt is common.Format.table  # by day, by model
    if not ({"model", "model_family"} & set(keys) or table_sections):
        unused.append("model")
    unused.extend(c for c in ("project", "team") if c not in keys)
    return unused
