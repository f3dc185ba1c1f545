"""`tokenlens sources`: what this machine has, and where every export comes from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tokenlens.cli import common, inputs
from tokenlens.cli.app import app


@app.command()
def sources(
    fmt: common.Format = common.FORMAT,
    json_: bool = common.JSON,
    config_file: Path | None = common.CONFIG,
) -> None:
    """List local logs found on this machine, and where to download each export tokenlens reads."""
    import polars as pl

    from tokenlens import config
    from tokenlens.loaders import detect

    cfg = config.load(config_file)
    roots = detect.local_roots()
    found = inputs.discover()
    rows = []
    for format_id, name in detect.FORMAT_NAMES.items():
        files = found.by_format.get(format_id, [])
        first = last = None
        if files:
            got = inputs.read(
                detect.Classified(by_format={format_id: files}),
                user=inputs.resolve_user(None, cfg),
            )
            span = got.frame.select(pl.col("ts").min().alias("a"), pl.col("ts").max().alias("b"))
            first, last = span.collect().row(0)
        rows.append(
            {
                "format": format_id,
                "name": name,
                "local": bool(files),
                "paths": ", ".join(str(p) for p in roots.get(format_id, [])) or None,
                "files": len(files),
                "first": first.date() if first else None,
                "last": last.date() if last else None,
                "where": detect.FORMAT_WHERE[format_id],
            }
        )
    frame = pl.DataFrame(rows)
    output = common.Format.json if json_ else fmt
    if output is common.Format.table:
        from tokenlens.render import sources as view
        from tokenlens.render.console import stdout

        view.render(stdout(), frame)
        return
    common.emit_frame(
        output,
        command="sources",
        generated=datetime.now(UTC),
        filters={},
        group_by=["format"],
        totals=None,
        rows=frame,
        notices=found.notices,
    )
