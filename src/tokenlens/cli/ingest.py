"""`tokenlens ingest`: read logs and exports into the store (an upsert; re-runs add nothing)."""

from __future__ import annotations

from pathlib import Path

from tokenlens.cli import common
from tokenlens.cli.app import app


@app.command()
def ingest(
    paths: list[Path] | None = common.PATHS,
    store: Path | None = common.STORE,
    user: str | None = common.USER,
    config_file: Path | None = common.CONFIG,
) -> None:
    """Add logs and exports to the store. Without paths, the local Claude Code logs.

    Files unchanged since the last ingest (same size and mtime) are skipped; rows already in the
    store are merged by each source's identity rule, so nothing is counted twice.
    """
    from tokenlens import config, pricing
    from tokenlens.loaders import claude_code, claude_lines
    from tokenlens.render import console
    from tokenlens.store import Store

    cfg = config.load(config_file)
    target = Store(store or config.default_store())
    roots = list(paths) if paths else common.local_roots()
    if not roots:
        raise common.fail(
            "no paths given and no Claude Code logs found on this machine",
            "Give the logs or exports to ingest: tokenlens ingest PATH...",
        )
    for path in roots:
        if not path.exists():
            raise common.fail(
                f"{path}: no such file or folder", "Check the path and run the command again."
            )
    files = claude_lines.find_files(roots)
    if paths and not files:
        raise common.fail(
            "no Claude Code transcripts (*.jsonl) under " + ", ".join(map(str, roots)),
            "Point at ~/.claude/projects, a project folder in it, or .jsonl files.",
        )
    ov = common.overrides(cfg)
    with target.locked():
        changed = target.changed_files(files)
        notices = []
        stats = None
        if changed:
            scan = claude_code.scan_claude_code(changed, user=common.resolve_user(user, cfg))
            priced, price_notices = pricing.price(scan.frame, overrides=ov)
            notices = [*scan.notices, *price_notices]
            stats = target.upsert(
                priced.collect(),
                merges={claude_code.SOURCE: claude_code.dedupe},
                files=scan.files,
            )
        current = pricing.price_version(ov)
        repriced = 0
        if target.price_versions() - {current, ""}:
            repriced = target.rewrite(
                lambda lf: pricing.price(
                    lf.drop("computed_cost_usd", "price_version"), overrides=ov
                )[0]
            )
    common.warn_all(notices)
    added = stats.added if stats else 0
    read = stats.rows_in if stats else 0
    console.info(
        f"ingested {len(changed)} of {len(files)} files ({len(files) - len(changed)} unchanged): "
        f"{read:,} events read, {added:,} new; store {target.root}"
        + (f"; re-priced {repriced} partitions" if repriced else "")
    )
