"""`tokenlens store`: check the store's integrity, and compact it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tokenlens.cli import common
from tokenlens.cli.app import app

if TYPE_CHECKING:
    from tokenlens.store import Store

store_app = typer.Typer(help="Check or compact the store.", no_args_is_help=True)
app.add_typer(store_app, name="store")


def _open(store: Path | None) -> Store:
    from tokenlens import config
    from tokenlens.store import Store

    target = Store(store or config.default_store())
    if not target.exists():
        raise common.fail(
            f"no store at {target.root}", "Run `tokenlens ingest` first, or check --store."
        )
    return target


@store_app.command("check")
def check(store: Path | None = common.STORE) -> None:
    """Verify every partition file, the schema, key uniqueness and the manifest; exit 1 on a
    problem, listing each one."""
    from tokenlens.render import console

    target = _open(store)
    problems = target.check()
    if problems:
        for problem in problems:
            console.warn(problem)
        raise common.fail(
            f"the store {target.root} has {len(problems)} problem(s)",
            "Re-ingest the logs and exports, or restore the folder from a backup.",
        )
    files = len(target.partition_files())
    console.info(f"store {target.root}: {files} partitions, no problems")


@store_app.command("compact")
def compact(store: Path | None = common.STORE) -> None:
    """Rewrite each partition as one sorted, compressed file."""
    from tokenlens.render import console

    target = _open(store)
    with target.locked():
        count = target.compact()
    console.info(f"store {target.root}: compacted {count} partitions")
