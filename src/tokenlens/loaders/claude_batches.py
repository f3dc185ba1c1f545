"""Claude Code trees of any size in bounded memory: rows bucketed through temporary files.

A tree of up to `ONE_GO_BYTES` is read in one go, the fastest way, whose peak memory grows with
the tree (about 0.6 KB a message). The threshold is where that peak meets the bucketed read's
(about 115 to 155 MB, from 1.5 to 8 GiB), so that no tree's peak is much above it; the bucketed
read takes about 15% longer there (bench/RESULTS.md). On a larger tree the readers
put their rows into buckets of about `BUCKET_BYTES` of transcripts each, by a hash of the message id
(`claude_lines.Spill`), so that every copy of a message (streamed copies, resumes, sidechain
replays) lands in the same bucket. Each bucket is then deduplicated on its own by
`claude_code.dedupe`, the same rule the whole tree would get, and its winning rows are written
to a temporary Parquet file. This process holds one bucket at a time; the rows are read back
lazily, each query taking only the columns it reads. The files are removed at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tokenlens.errors import TokenlensError
from tokenlens.loaders import claude_lines

if TYPE_CHECKING:  # polars loads once the readers have forked, as claude_lines wants
    from tokenlens.loaders.base import Scan

ONE_GO_BYTES: Final = 9 << 27  # 1.125 GiB
BUCKET_BYTES: Final = 256 << 20
FLUSH_ROWS: Final = 50_000  # a reader's rows between two writes to the buckets
TEMP_PREFIX: Final = "tokenlens-buckets-"


def scan(
    paths: Sequence[Path],
    *,
    user: str,
    meanwhile: Callable[[], object] | None = None,
    one_go_bytes: int | None = None,
    bucket_bytes: int | None = None,
    flush_rows: int = FLUSH_ROWS,
) -> Scan:
    """Canonical, deduplicated rows of the transcripts under `paths`; see the module's note.

    On a tree read in buckets, the scan's `parts` are the buckets' rows, one part each."""
    one_go_bytes = ONE_GO_BYTES if one_go_bytes is None else one_go_bytes
    bucket_bytes = BUCKET_BYTES if bucket_bytes is None else bucket_bytes
    files = claude_lines.find_files(paths)
    sizes = claude_lines.file_sizes(files)
    if sum(sizes) <= one_go_bytes:
        chunk = claude_lines.read_files(files, sizes=sizes, meanwhile=meanwhile)
        from tokenlens.loaders import claude_code

        return claude_code.to_scan(files, chunk, user=user)
    try:
        return _in_buckets(
            files,
            sizes,
            user=user,
            meanwhile=meanwhile,
            bucket_bytes=bucket_bytes,
            flush_rows=flush_rows,
        )
    except claude_lines.SpillError as exc:
        where = tempfile.tempdir or os.environ.get("TMPDIR") or "the temporary folder"
        raise TokenlensError(
            f"could not write temporary files in {where}: {exc.strerror or exc}",
            hint="Free some space there, or set TMPDIR to a folder with room.",
        ) from exc


def return_freed_pages() -> None:
    """Have polars' allocator hand freed pages back to the system at once, so that the peaks of
    work done a bucket after another do not pile up. Takes effect only before polars loads (a
    later setting of an option wins over an earlier one)."""
    if "polars" not in sys.modules:
        conf = os.environ.get("_RJEM_MALLOC_CONF", "")
        os.environ["_RJEM_MALLOC_CONF"] = f"{conf},dirty_decay_ms:0,muzzy_decay_ms:0".lstrip(",")


def read_in_buckets(files: Sequence[Path]) -> bool:
    """Whether `scan` reads these transcripts in buckets (more than `ONE_GO_BYTES` of them)."""
    return sum(claude_lines.file_sizes(files)) > ONE_GO_BYTES


def _in_buckets(
    files: list[Path],
    sizes: list[int],
    *,
    user: str,
    meanwhile: Callable[[], object] | None,
    bucket_bytes: int,
    flush_rows: int,
) -> Scan:
    """`scan` of a tree larger than the one-go threshold, through temporary bucket files."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
    except OSError as exc:
        raise claude_lines.SpillError(exc.errno, exc.strerror or str(exc)) from exc
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    buckets = -(-sum(sizes) // max(bucket_bytes, 1))
    return_freed_pages()
    spill = claude_lines.Spill(str(folder), buckets, flush_rows)
    chunk = claude_lines.read_files(files, sizes=sizes, meanwhile=meanwhile, spill=spill)
    import polars as pl

    from tokenlens import schema
    from tokenlens.loaders import claude_code
    from tokenlens.loaders.base import Scan

    bad_ts: dict[str, int] = {}
    by_bucket: dict[int, list[Path]] = {}
    for piece in sorted(folder.glob("b*.pkl")):
        by_bucket.setdefault(int(piece.name[1:].partition("-")[0]), []).append(piece)
    written = []
    for bucket, pieces in sorted(by_bucket.items()):
        part = claude_lines.Chunk(rows=[claude_lines.load_packed(p) for p in pieces])
        for piece in pieces:
            piece.unlink()
        rows, skipped = claude_code.winning_rows(files, part, user=user)
        del part
        for path, count in skipped.items():
            bad_ts[path] = bad_ts.get(path, 0) + count
        out = folder / f"rows-{bucket}.parquet"
        try:
            rows.collect().write_parquet(out, compression="lz4", statistics=False)
        except pl.exceptions.ComputeError as exc:  # how polars reports a full disk
            raise claude_lines.SpillError(None, str(exc)) from exc
        written.append(out)
    # The same notices, in the same order, as a read in one go gives.
    order = {str(path): at for at, path in enumerate(files)}
    notices = claude_code.notices(chunk, dict(sorted(bad_ts.items(), key=lambda i: order[i[0]])))
    if not written:
        return Scan(claude_code.SOURCE, schema.empty(schema.USAGE).lazy(), notices, files)
    frame = schema.conform(pl.scan_parquet(written))  # in bucket order: sorting costs memory
    parts = [schema.conform(pl.scan_parquet(path)) for path in written]
    return Scan(claude_code.SOURCE, frame, notices, files, parts)
