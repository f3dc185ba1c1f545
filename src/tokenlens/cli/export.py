"""`tokenlens export`: the canonical rows, filtered, as Parquet, CSV or NDJSON."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path

import typer

from tokenlens.cli import common, inputs
from tokenlens.cli.app import app


class ExportFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"
    ndjson = "ndjson"


@app.command()
def export(
    paths: list[Path] | None = common.PATHS,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write; default stdout."
    ),
    fmt: ExportFormat = typer.Option(ExportFormat.csv, "--format", "-f", help="Output format."),
    store: Path | None = common.STORE,
    user: str | None = common.USER,
    since: str | None = common.SINCE,
    until: str | None = common.UNTIL,
    tz: str | None = common.TZ,
    source: list[str] | None = common.SOURCE,
    model: list[str] | None = common.MODEL,
    project: list[str] | None = common.PROJECT,
    cost_mode: common.CostModeOpt = common.COST_MODE,
    config_file: Path | None = common.CONFIG,
) -> None:
    """Write the canonical rows (after filters), priced, for other tools and cron jobs."""
    from tokenlens import config

    cfg = config.load(config_file)
    zone = tz or config.local_timezone()
    config.check_timezone(zone)
    forced = source[0] if paths and source and len(source) == 1 else None
    loaded = inputs.load(paths, store, user=user, source=forced, cfg=cfg)
    from tokenlens import pricing
    from tokenlens.analysis import filters
    from tokenlens.render import flat, jsonout

    rows = pricing.with_cost(loaded.rows, cost_mode.value)
    rows = filters.apply(
        rows, sources=source, models=model, projects=project, users=[user] if user else None
    )
    last = filters.last_day(rows, zone)
    end = common.parse_day(until, anchor=last, option="--until")
    start = common.parse_day(since, anchor=end or last, option="--since")
    frame = filters.apply(rows, since=start, until=end, tz=zone).sort("ts", "event_id").collect()
    common.warn_all(loaded.notices)
    if fmt is ExportFormat.parquet:
        if output is None:
            if sys.stdout.isatty():
                raise common.fail(
                    "Parquet is binary and stdout is a terminal",
                    "Give --output FILE, or pipe stdout to a file.",
                )
            frame.write_parquet(sys.stdout.buffer)
            return
        frame.write_parquet(output)
        os.chmod(output, 0o600)
        return
    text = flat.to_csv(frame) if fmt is ExportFormat.csv else jsonout.ndjson(frame)
    if output is None:
        common.emit(text)
    else:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
