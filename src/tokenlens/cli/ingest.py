"""`tokenlens ingest`: read logs and exports into the store (an upsert; re-runs add nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tokenlens.cli import common, inputs
from tokenlens.cli.app import app

if TYPE_CHECKING:
    from tokenlens.config import Config
    from tokenlens.errors import Notice
    from tokenlens.store import Transaction


@app.command()
def ingest(
    paths: list[Path] | None = common.PATHS,
    store: Path | None = common.STORE,
    user: str | None = common.USER,
    source: str | None = typer.Option(
        None, "--source", help="Read every file as this source (default: detect from content)."
    ),
    config_file: Path | None = common.CONFIG,
) -> None:
    """Add logs and exports to the store. Without paths, this machine's local logs.

    Files unchanged since the last ingest (same size and mtime) are skipped; rows already in the
    store are merged by each source's identity rule, so nothing is counted twice.
    """
    from tokenlens import config
    from tokenlens.loaders import claude_batches
    from tokenlens.render import console

    cfg = config.load(config_file)
    found = inputs.classify(list(paths), source) if paths else inputs.discover(source)
    if claude_batches.read_in_buckets(found.by_format.get("claude_code", [])):
        claude_batches.return_freed_pages()  # before the store loads polars
    from tokenlens.store import Store, file_keys

    target = Store(store or config.default_store())
    if not found.by_format:
        raise common.fail(
            "nothing to ingest: no usage logs or exports found"
            + (" under " + ", ".join(map(str, paths)) if paths else " on this machine"),
            inputs.skipped_hint(found.notices)
            or "Give the logs or exports to ingest: tokenlens ingest PATH...",
        )
    total = len(found.files())
    with target.locked():
        for fmt, files in list(found.by_format.items()):
            changed = target.changed_files(files)
            if changed:
                found.by_format[fmt] = changed
            else:
                del found.by_format[fmt]
        changed_count = len(found.files())
        stamps = target.stamps(found.files())  # before reading: a file growing meanwhile is re-read
        notices = list(found.notices)
        added = read_rows = read_files = 0
        with target.transaction() as tx:  # new rows, file records and re-pricing: one commit
            if found.by_format:
                from tokenlens import pricing

                got = inputs.read(found, user=inputs.resolve_user(user, cfg))
                if got.parts:
                    added, read_rows, price_notices = _upsert_in_buckets(tx, got, cfg, stamps)
                else:
                    priced, price_notices = pricing.price(
                        got.frame, overrides=inputs.overrides(cfg)
                    )
                    stats = tx.upsert(
                        priced.collect(engine="in-memory"),
                        merges=got.merges,
                        files=got.files,
                        stamps=stamps,
                    )
                    added, read_rows = stats.added, stats.rows_in
                notices = [*got.notices, *price_notices]
                read_files = len(set(file_keys(got.files)))
            repriced = _reprice_if_stale(tx, cfg)
    common.warn_all(notices)
    skipped = max(changed_count - read_files, 0)  # refused: not recorded, so tried again
    console.info(
        f"ingested {read_files} of {total} files ({total - changed_count} unchanged"
        + (f", {skipped} skipped" if skipped else "")
        + "): "
        f"{read_rows:,} events read, {added:,} new; store {target.root}"
        + (f"; re-priced {repriced} partitions" if repriced else "")
    )


def _upsert_in_buckets(
    tx: Transaction, got: inputs.Read, cfg: Config, stamps: Any
) -> tuple[int, int, list[Notice]]:
    """Upsert rows read in parts (a large Claude Code tree) a bucket of messages at a time
    (`Transaction.upsert_parts`): this process holds a bucket's rows, not the tree's.
    Returns the rows added, the rows read and the pricing notices."""
    from tokenlens import pricing

    parts, notices = pricing.price_parts(got.parts, overrides=inputs.overrides(cfg))
    stats = tx.upsert_parts(parts, merges=got.merges, files=got.files, stamps=stamps)
    return stats.added, stats.rows_in, notices


def _reprice_if_stale(target: Transaction, cfg: Config) -> int:
    """Re-price stored rows when the price data or the overrides changed since they were priced."""
    from tokenlens import pricing

    ov = inputs.overrides(cfg)
    current = pricing.price_version(ov)
    if not target.price_versions() - {current, ""}:
        return 0
    return target.rewrite(
        lambda lf: pricing.price(lf.drop("computed_cost_usd", "price_version"), overrides=ov)[0]
    )
