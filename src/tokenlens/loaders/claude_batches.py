"""Claude Code trees of any size in bounded memory: read in batches through temporary Parquet.

A tree of up to `SPILL_BYTES` is read in one go. A larger one is read `BATCH_BYTES` at a time,
in a child process: each batch's rows, already deduplicated within the batch, go to temporary
files split by a hash of their message id, so that every copy of a message (streamed copies,
sidechain replays) lands in the same bucket. Each bucket is then deduplicated on its own by
`claude_code.dedupe`, the same rule the whole tree would get. The child's peak memory is that of
one batch, whatever the size of the tree; this process holds only the final rows, read back
lazily (about 0.25 KB an event in a report). The files are removed at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tokenlens.errors import Notice, TokenlensError
from tokenlens.loaders import claude_lines

if TYPE_CHECKING:  # polars loads once the first files are read, as claude_lines wants
    import polars as pl

    from tokenlens.loaders.base import Scan

SPILL_BYTES: Final = 3 << 29  # 1.5 GiB: below it one read is faster, and peaks under 400 MB
BATCH_BYTES: Final = 512 << 20
TEMP_PREFIX: Final = "tokenlens-batches-"


def scan(
    paths: Sequence[Path],
    *,
    user: str,
    meanwhile: Callable[[], object] | None = None,
    spill_bytes: int = SPILL_BYTES,
    batch_bytes: int = BATCH_BYTES,
) -> Scan:
    """Canonical, deduplicated rows of the transcripts under `paths`; see the module's note."""
    files = claude_lines.find_files(paths)
    sizes = claude_lines.file_sizes(files)
    if sum(sizes) <= spill_bytes:
        chunk = claude_lines.read_files(files, sizes=sizes, meanwhile=meanwhile)
        from tokenlens.loaders import claude_code

        return claude_code.to_scan(files, chunk, user=user)
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    batches = _batches(files, sizes, batch_bytes)
    # The batches are read in a child process: the memory they churn through dies with it. This
    # process stays small meanwhile (fork is safe before polars loads), and loads what it needs
    # for the rows only afterwards, so the two never hold their peaks at once.
    with ProcessPoolExecutor(1, mp_context=claude_lines.process_context()) as pool:
        future = pool.submit(_spill_batches, batches, user, folder)
        try:
            notices, rows = future.result()
        except BrokenProcessPool as exc:  # killed, or out of memory
            raise TokenlensError(
                "the process reading the transcripts in batches stopped unexpectedly",
                hint="Check free memory and disk space in the temporary folder, then retry.",
            ) from exc
    if meanwhile is not None:
        meanwhile()
    import polars as pl

    from tokenlens import schema
    from tokenlens.loaders import claude_code
    from tokenlens.loaders.base import Scan

    frame = (
        schema.conform(pl.scan_parquet(rows))  # in bucket order: sorting would cost memory
        if rows
        else schema.empty(schema.USAGE).lazy()
    )
    return Scan(claude_code.SOURCE, frame, notices, files)


def _spill_batches(
    batches: list[list[Path]], user: str, folder: Path
) -> tuple[list[Notice], list[Path]]:
    """Read each batch, spill its rows into buckets, then deduplicate each bucket into
    `rows-<bucket>.parquet`. Returns the notices and the files of rows."""
    # This process loads polars only now: its allocator is told to hand freed pages back at once
    # (rather than after ten seconds), so the batches' peaks do not pile up. A later setting
    # of an option wins over an earlier one.
    conf = os.environ.get("_RJEM_MALLOC_CONF", "")
    os.environ["_RJEM_MALLOC_CONF"] = f"{conf},dirty_decay_ms:0,muzzy_decay_ms:0".lstrip(",")
    buckets = len(batches)
    notices: list[Notice] = []
    for number, batch in enumerate(batches):
        found, chunk = claude_lines.read_records(batch)  # the first batch forks before polars
        from tokenlens.loaders import claude_code

        part = claude_code.to_scan(found, chunk, user=user)
        del chunk
        notices.extend(part.notices)
        _spill(part.frame.collect(), folder, number, buckets)
    import polars as pl

    rows = []
    for bucket in range(buckets):
        written = sorted(folder.glob(f"b{bucket}-*.parquet"))
        if written:
            out = folder / f"rows-{bucket}.parquet"
            claude_code.dedupe(pl.scan_parquet(written)).collect().write_parquet(out)
            for spilled in written:
                spilled.unlink()
            rows.append(out)
    return _summed(notices), rows


def _batches(files: list[Path], sizes: list[int], batch_bytes: int) -> list[list[Path]]:
    """Runs of the sorted files of about `batch_bytes` each (a larger file is a batch alone)."""
    out: list[list[Path]] = [[]]
    held = 0
    for path, size in zip(files, sizes, strict=True):
        if out[-1] and held + size > batch_bytes:
            out.append([])
            held = 0
        out[-1].append(path)
        held += size
    return out


def _spill(frame: pl.DataFrame, folder: Path, number: int, buckets: int) -> None:
    import polars as pl

    message = pl.col("event_id").str.split_exact(":", 1).struct.field("field_0")
    keyed = frame.with_columns(_bucket=(message.hash(seed=7) % buckets).cast(pl.Int64))
    for (bucket,), part in keyed.partition_by("_bucket", as_dict=True).items():
        part.drop("_bucket").write_parquet(folder / f"b{bucket}-{number}.parquet")


def _summed(notices: list[Notice]) -> list[Notice]:
    """One notice per (message, path), with the batches' counts added up."""
    counts: dict[tuple[str, str | None], int | None] = {}
    for n in notices:
        key = (n.message, n.path)
        held = counts.get(key)
        counts[key] = n.count if held is None else held + (n.count or 0)
    return [Notice(message, count, path) for (message, path), count in counts.items()]
