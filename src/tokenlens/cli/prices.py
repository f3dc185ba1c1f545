"""`tokenlens prices`: the prices in use for the models in the data, and what cannot be priced."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import typer

from tokenlens.cli import common, inputs
from tokenlens.cli.app import app


@app.command()
def prices(
    models: list[str] | None = typer.Argument(
        None, help="Model ids to look up (default: every model in the data)."
    ),
    paths: list[Path] | None = typer.Option(
        None, "--path", help="Read these logs or exports instead of the store (repeatable)."
    ),
    store: Path | None = common.STORE,
    on: str | None = typer.Option(
        None, "--on", help="Price date YYYY-MM-DD (default: the last use)."
    ),
    fmt: common.Format = common.FORMAT,
    json_: bool = common.JSON,
    config_file: Path | None = common.CONFIG,
) -> None:
    """Show per-million prices in use (source, date, rates, overrides) and list unpriced models."""
    import polars as pl

    from tokenlens import config, pricing

    cfg = config.load(config_file)
    ov = inputs.overrides(cfg)
    wanted: list[tuple[str, str, date]] = []
    when = common.parse_day(on, anchor=None, option="--on") if on else None
    if models:
        today = when or datetime.now(UTC).date()
        wanted = [("claude_code" if m.startswith("claude") else "", m, today) for m in models]
    else:
        loaded = inputs.load(paths, store, user=None, source=None, cfg=cfg)
        used = (
            loaded.rows.group_by("source", "model")
            .agg(pl.col("ts").max().dt.date().alias("last"))
            .sort("source", "model")
            .collect()
        )
        wanted = [(s, m, when or d) for s, m, d in used.iter_rows() if m is not None]
    rows = []
    for source, model, day in wanted:
        rate = pricing.resolve(model, day, fast=False, source=source, overrides=ov)
        row: dict[str, object] = {
            "source": source or None,
            "model": model,
            "date": day,
            "priced_as": f"{rate.provider}/{rate.model_id}" if rate else None,
        }
        for key in pricing.PRICE_KEYS:
            value = rate.rates.get(key) if rate else None
            row[key.removesuffix("_mtok") + "_usd_per_mtok"] = value[0] if value else None
            if value and value[1]:
                row[key.removesuffix("_mtok") + "_tiers"] = ", ".join(
                    f">{start:,}: ${price:g}" for start, price in value[1]
                )
        row["override"] = (
            "model" if model in ov.models else "alias" if model in ov.aliases else None
        )
        row["discount"] = ov.discount if ov.discount != 1.0 else None
        rows.append(row)
    pricing.save_rates()
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    unpriced = [r["model"] for r in rows if r["priced_as"] is None]
    output = common.Format.json if json_ else fmt
    notices = []
    if unpriced:
        from tokenlens.errors import Notice

        notices.append(
            Notice("no price known for: " + ", ".join(map(str, unpriced)), len(unpriced))
        )
    common.warn_all(notices)
    if output is common.Format.table:
        from tokenlens.render import tables
        from tokenlens.render.console import stdout

        console = stdout()
        keys = ["source", "model", "date", "priced_as"]
        metrics = [c for c in frame.columns if c not in keys]
        console.print(tables.table(frame, keys=keys, metrics=metrics, console=console))
        console.print(f"price data: {pricing.price_version(ov)}")
        return
    common.emit_frame(
        output,
        command="prices",
        generated=datetime.now(UTC),
        filters={"on": when},
        group_by=["source", "model"],
        totals=None,
        rows=frame,
        notices=notices,
    )
