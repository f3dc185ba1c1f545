"""`tokenlens report`: totals, cost and efficiency, grouped any way."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import typer

from tokenlens.cli import common, inputs
from tokenlens.cli.app import app


class GroupBy(str, Enum):
    day = "day"
    week = "week"
    month = "month"
    source = "source"
    model = "model"
    model_family = "model_family"
    user = "user"
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
    config_file: Path | None = common.CONFIG,
) -> None:
    """Report tokens, cost, $/Mtok and cache-hit ratio, by day and model or any --by keys."""
    from tokenlens import config

    cfg = config.load(config_file)
    zone = tz or config.local_timezone()
    config.check_timezone(zone)
    forced = source[0] if paths and source and len(source) == 1 else None
    loaded = inputs.load(paths, store, user=user, source=forced, cfg=cfg)
    from tokenlens import pricing
    from tokenlens.analysis import filters, totals

    rows = pricing.with_cost(loaded.rows, cost_mode.value)
    rows = filters.apply(
        rows, sources=source, models=model, projects=project, users=[user] if user else None
    )
    last = filters.last_day(rows, zone)
    end = common.parse_day(until, anchor=last, option="--until")
    start = common.parse_day(since, anchor=end or last, option="--since")
    rows = filters.apply(rows, since=start, until=end, tz=zone).cache()

    keys = [k.value for k in by] if by else []
    overall = totals.totals(rows, tz=zone).row(0, named=True)
    generated = datetime.now(UTC)
    shown_filters = {
        "since": start,
        "until": end,
        "tz": zone,
        "source": source or None,
        "model": model or None,
        "project": project or None,
        "user": user,
        "cost_mode": cost_mode.value,
    }
    notices = loaded.notices
    output = common.Format.json if json_ else fmt
    common.warn_all(notices)
    if output is common.Format.table:
        from tokenlens.render import report as view
        from tokenlens.render.console import stdout

        first, final = totals.bounds(rows)
        period = common.period_label(start, end, first, final, zone)
        if keys:
            sections = [("", keys, totals.totals(rows, by=keys, tz=zone))]
        else:
            sections = [
                ("By day", ["day"], totals.totals(rows, by=["day"], tz=zone)),
                ("By model", ["model"], totals.totals(rows, by=["model"], tz=zone)),
            ]
        view.render(
            stdout(),
            period=period,
            totals=overall,
            sections=sections,
        )
        return
    keys = keys or ["day"]
    grouped = totals.totals(rows, by=keys, tz=zone)
    common.emit_frame(
        output,
        command="report",
        generated=generated,
        filters=shown_filters,
        group_by=keys,
        totals=overall,
        rows=grouped,
        notices=notices,
    )
