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
    from tokenlens.render import flat, jsonout

    frame = sel.rows.sort("ts", "event_id").collect()
    common.warn_all(sel.notices)
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
