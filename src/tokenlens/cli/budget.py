"""`tokenlens budget`: spend so far and projected against a floor and a ceiling per period."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer

from tokenlens.cli import analyses, common
from tokenlens.cli.app import app


class Scope(str, Enum):
    user = "user"
    team = "team"
    source = "source"


class Period(str, Enum):
    day = "day"
    week = "week"
    month = "month"


@app.command()
def budget(
    paths: list[Path] | None = common.PATHS,
    min_usd: float | None = typer.Option(
        None, "--min", min=0, help="Floor in USD (one-run budget)."
    ),
    max_usd: float | None = typer.Option(
        None, "--max", min=0, help="Ceiling in USD (one-run budget)."
    ),
    scope: Scope = typer.Option(Scope.user, "--scope", help="Who a one-run budget applies to."),
    period: Period = typer.Option(Period.month, "--period", help="Period of a one-run budget."),
    budget_source: str | None = typer.Option(
        None, "--budget-source", help="Count only this source's spend in a one-run budget."
    ),
    fail_on_under: bool = typer.Option(
        False, "--fail-on-under", help="Also exit 3 when anyone is under the floor."
    ),
    store: Path | None = common.STORE,
    user: str | None = common.USER,
    until: str | None = common.UNTIL,
    tz: str | None = common.TZ,
    source: list[str] | None = common.SOURCE,
    model: list[str] | None = common.MODEL,
    project: list[str] | None = common.PROJECT,
    fmt: common.Format = common.FORMAT,
    json_: bool = common.JSON,
    cost_mode: common.CostModeOpt = common.COST_MODE,
    config_file: Path | None = common.CONFIG,
) -> None:
    """Check spend against budgets: each row has spend so far, the projection at the current burn
    rate, and a status (under, ok, over). Exit 3 when anyone is over (or under, with
    --fail-on-under). Budgets come from [[budgets]] in the config, or --min/--max for one run."""
    sel = analyses.select(
        paths,
        store=store,
        user=user,
        until=until,
        tz=tz,
        source=source,
        model=model,
        project=project,
        cost_mode=cost_mode,
        config_file=config_file,
    )
    import polars as pl

    from tokenlens.analysis import budgets as check

    if min_usd is not None or max_usd is not None:
        specs: list[dict[str, Any]] = [
            {
                "scope": scope.value,
                "period": period.value,
                "source": budget_source,
                "min_usd": min_usd,
                "max_usd": max_usd,
            }
        ]
    else:
        specs = sel.cfg.budgets
    if not specs:
        raise common.fail(
            "no budgets to check",
            "Give --min and/or --max, or add [[budgets]] to the config "
            "(see `tokenlens config show`).",
        )
    rules = [analyses.from_config(sel.cfg, "budgets", check.Budget, spec) for spec in specs]
    rows = (
        check.budgets(sel.rows, budgets=rules, until=sel.end, tz=sel.tz)
        if sel.end is not None
        else pl.DataFrame(schema=check.OUTPUT)
    )
    counts = {s: rows.filter(pl.col("status") == s).height for s in check.STATUSES}
    summary = {"budgets": len(rules), "rows": rows.height, **counts, "as_of": sel.end}
    output = common.Format.json if json_ else fmt
    analyses.emit(
        output,
        command="budget",
        sel=sel,
        rows=rows,
        totals=summary,
        group_by=["user", "team", "source", "period"],
        notices=sel.notices,
        title="Budgets",
        keys=["user", "team", "source", "period", "status"],
        extra_filters={"fail_on_under": fail_on_under},
    )
    if counts["over"] or (fail_on_under and counts["under"]):
        raise typer.Exit(3)
