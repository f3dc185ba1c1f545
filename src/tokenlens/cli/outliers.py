"""`tokenlens outliers`: days and sessions far from the norm, and circuit-breaker caps."""

from __future__ import annotations

from pathlib import Path

import typer

from tokenlens.cli import analyses, common
from tokenlens.cli.app import app


@app.command()
def outliers(
    paths: list[Path] | None = common.PATHS,
    days: int | None = typer.Option(None, "--days", min=1, help="Days scanned, ending at --until."),
    daily_cap: float | None = typer.Option(
        None, "--daily-cap", min=0, help="Flag any user-day over this many USD (circuit breaker)."
    ),
    metric: str | None = typer.Option(None, "--metric", help="cost (default) or tokens."),
    fail_on: analyses.FailOn | None = analyses.FAIL_ON,
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
    """Flag outliers: a user's day far above the team (robust z-score) or 5x their own norm, a
    period 10x the team median, runaway agent sessions, and days over a cap.

    Thresholds come from the [outliers] section of the config (see `tokenlens config show`).
    """
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
    from tokenlens.analysis import outliers as scan

    values = dict(sel.cfg.outliers)
    for key, value in (("days", days), ("daily_cap_usd", daily_cap), ("metric", metric)):
        if value is not None:
            values[key] = value
    rules = analyses.from_config(sel.cfg, "outliers", scan.OutlierRules, values)
    import polars as pl

    flags = (
        scan.outliers(sel.rows, until=sel.end, tz=sel.tz, rules=rules)
        if sel.end is not None
        else pl.DataFrame(schema=scan.FLAG_SCHEMA)
    )
    worst = scan.max_severity(flags)
    summary = {
        "flags": flags.height,
        "critical": flags.filter(pl.col("severity") == "critical").height,
        "warn": flags.filter(pl.col("severity") == "warn").height,
        "max_severity": worst,
        "window_start": None
        if sel.end is None
        else sel.end.fromordinal(sel.end.toordinal() - rules.days + 1),
        "window_end": sel.end,
    }
    output = common.Format.json if json_ else fmt
    analyses.emit(
        output,
        command="outliers",
        sel=sel,
        rows=flags,
        totals=summary,
        group_by=[],
        notices=sel.notices,
        title="Outliers",
        keys=["user", "team", "day", "session", "rule", "severity"],
        extra_filters={"fail_on": fail_on.value if fail_on else None},
    )
    if fail_on and worst and scan.SEVERITIES.index(worst) >= scan.SEVERITIES.index(fail_on.value):
        raise typer.Exit(3)
