"""The archive: a Parquet dataset partitioned by source and month, committed atomically.

Layout under the store folder:

    manifest.json      schema version, files already ingested (size and mtime when read),
                       each partition's row count and price version
    data/source=<s>/month=<YYYY-MM>/part.parquet
    lock               held (flock) by the one writer (ingest, compact) for its whole run
    commit.lock        held (flock) shared by a reader while it opens a snapshot, and exclusively
                       by the writer while it applies a commit
    commit.json        the journal of the commit being applied; absent otherwise

Every write is one commit, however many partitions it touches:

1. each new partition file and the new manifest are written to temporary files beside the files
   they replace and synced to disk: the long part, during which readers are not held up;
2. with the commit lock held exclusively, the journal listing every rename is written (itself
   through a temporary file and a rename): this is the commit point;
3. the renames are applied, the folders synced, the journal removed and the lock released.

A writer that dies before step 2 leaves only temporary files, which the next writer removes and
which no reader looks at: the store is in its old state. One that dies after it leaves a journal,
which the next reader or writer applies before anything else: the store is in its new state. A
live writer holds the commit lock for as long as its journal exists, so a journal found while
holding the lock belongs to a dead one. The manifest's list of ingested files changes in the same
commit as the rows read from them, so a file is never recorded as ingested without its rows.

A reader holds the commit lock (shared) only while it reads the manifest and opens every partition
file. The open files keep that generation readable after later commits rename new files over
them, so everything one scan returns, however often it is collected, is one commit's state across
all partitions. Readers never wait for an ingest's reading and parsing, only for the renames of a
commit. Locks are flock locks, which the kernel releases when their holder exits or is killed, so a
dead process never leaves the store locked; its pid, written in `lock`, only names a live holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import json
import os
import resource
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Concatenate, Final, ParamSpec, TypeVar

import polars as pl

from tokenlens import schema
from tokenlens.errors import StoreError

MANIFEST: Final = "manifest.json"
DATA: Final = "data"
LOCK: Final = "lock"
COMMIT_LOCK: Final = "commit.lock"
JOURNAL: Final = "commit.json"
PART: Final = "part.parquet"
TMP_MARK: Final = ".tmp-"
LOCK_WAIT_S: Final = 30.0
# A report reads a large store a part of about this many rows at a time (`Store.scan_parts`),
# and partitions are written in row groups of a quarter of it, so a slice reads only its own.
PART_ROWS: Final = 200_000
# An upsert of rows given in parts (`Transaction.upsert_parts`) merges about this many rows at a
# time, new and stored together.
UPSERT_ROWS: Final = 50_000

Merge = Callable[[pl.LazyFrame], pl.LazyFrame]
_P = ParamSpec("_P")
_R = TypeVar("_R")
# New rows to upsert, and the filter selecting the stored rows they may meet (None: none).
Batch = tuple[pl.DataFrame, pl.Expr | None]
Stamp = list[int]  # [size, mtime_ns] of an ingested file


# Sources whose merge needs only the copies of one message (the event id before its first
# ":") to meet: Claude Code's identity rule. Others (Cursor drops a copy exported in another
# shape with the same time, user, model and tokens, under another id) meet whole months.
BY_MESSAGE: Final = frozenset({"claude_code"})


def _by_message(source: str, merge: Merge) -> bool:
    """Whether a source's rows can be merged a message at a time (see `BY_MESSAGE`)."""
    return source in BY_MESSAGE or merge is keep_newest


def keep_newest(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Default identity rule: one row per (source, event_id); the first (newest) copy wins."""
    return lf.unique(subset=list(schema.KEY), keep="first", maintain_order=True)


@dataclass
class IngestStats:
    rows_in: int = 0
    added: int = 0
    partitions_written: int = 0


# files and locks ---------------------------------------------------------------------------------


def _sync_dir(path: Path) -> None:
    """Make a folder's entries (renames, new files) durable; a no-op where folders cannot sync."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_bytes(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_parquet(path: Path, rows: pl.DataFrame | pl.LazyFrame) -> None:
    """Write a partition file, synced to disk and owner-only; lazy rows by a streaming copy."""
    write = rows.sink_parquet if isinstance(rows, pl.LazyFrame) else rows.write_parquet
    write(
        path,
        compression="zstd",
        compression_level=1,
        statistics=True,
        row_group_size=PART_ROWS // 4,
    )
    os.chmod(path, 0o600)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


class _PartitionWriter:
    """One partition file written a piece at a time (pieces of an upsert in buckets): the
    pieces go to temporary files beside it, joined into it by a streaming copy when it is
    closed. What the manifest records of it is summed piece by piece, which holds less than
    counting the joined file again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pieces: list[Path] = []
        self.rows = 0
        self.versions: set[str] = set()
        self.held: set[str] = set()  # columns some row has a value in

    def write(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        piece = self.path.with_name(f"{self.path.name}-{len(self.pieces)}")
        self.pieces.append(piece)
        frame.write_parquet(piece, compression="lz4", statistics=False)
        self.rows += frame.height
        self.versions.update(frame.get_column("price_version").unique().drop_nulls().to_list())
        self.held.update(
            c for c in frame.columns if frame.get_column(c).null_count() < frame.height
        )

    def abandon(self) -> None:
        """Remove the file and its pieces, unfinished."""
        for path in [*self.pieces, self.path]:
            path.unlink(missing_ok=True)

    def close(self) -> dict[str, Any]:
        """Finish the file (synced to disk, its pieces removed); its manifest entry."""
        rows = pl.scan_parquet(self.pieces) if self.pieces else schema.empty(schema.STORED)
        _write_parquet(self.path, rows)
        for piece in self.pieces:
            piece.unlink()
        self.pieces = []
        empty = [c for c in schema.STORED if c not in self.held]
        return _entry(self.rows, self.versions, empty)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}-{os.urandom(4).hex()}")
    try:
        _write_bytes(tmp, data)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return json.dumps(manifest, indent=1, sort_keys=True).encode()


def _flock(fd: int, operation: int, wait_s: float) -> bool:
    """Take a flock, retrying until wait_s has passed; False when another process keeps it."""
    deadline = time.monotonic() + wait_s
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        except OSError as exc:
            raise StoreError(
                f"cannot lock the store: {exc.strerror}",
                hint="Keep the store on a local file system (--store or TOKENLENS_STORE).",
            ) from exc


def _stamp(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def file_keys(files: Sequence[Path]) -> list[str]:
    """Each file's key in the manifest, `str(path.resolve())`, resolving each folder once (a
    file that is itself a symbolic link is resolved whole)."""
    folders: dict[str, str] = {}
    out = []
    for path in files:
        text = os.fspath(path)
        if os.path.islink(text):
            out.append(str(path.resolve()))
            continue
        head, name = os.path.split(text)
        real = folders.get(head)
        if real is None:
            real = folders[head] = str(Path(head or ".").resolve())
        out.append(os.path.join(real, name))
    return out


def _partition_entry(rows: pl.DataFrame | pl.LazyFrame) -> dict[str, Any]:
    """What the manifest records of a partition: its row count, the prices it was priced at,
    and the columns no row has a value in (a report skips adding those up). Lazy rows (a
    written file, say) are counted by a streaming pass."""
    lf = rows.lazy()
    names = lf.collect_schema().names()
    counts = lf.select(
        pl.len().alias("_rows"),
        pl.col("price_version").drop_nulls().unique().implode().alias("_versions"),
        *(pl.col(c).null_count().alias(c) for c in names),
    ).collect(engine="in-memory" if isinstance(rows, pl.DataFrame) else "streaming")
    height = int(counts.get_column("_rows")[0])
    empty = [c for c in names if counts.get_column(c)[0] == height]
    return _entry(height, set(counts.get_column("_versions")[0].to_list()), empty)


def _entry(rows: int, versions: set[str], empty: list[str]) -> dict[str, Any]:
    """A partition's manifest entry (see `_partition_entry`)."""
    one = sorted(versions)
    return {
        "rows": rows,
        "price_version": one[0] if len(one) == 1 else "mixed",
        "empty_columns": empty,
    }


def _month() -> pl.Expr:
    """A row's partition month as a number, year * 100 + month (cheaper than text per row)."""
    ts = pl.col("ts")
    return ts.dt.year().cast(pl.Int32) * 100 + ts.dt.month().cast(pl.Int32)


def _month_name(month: int | None) -> str:
    """`YYYY-MM`; a row without a time (which loaders drop) would go to `month=None`."""
    return "None" if month is None else f"{month // 100:04d}-{month % 100:02d}"


def _scan_files(handles: list[IO[bytes]]) -> pl.LazyFrame:
    """Stored rows of open partition files (STORED schema; columns added since, null)."""
    return pl.scan_parquet(handles, schema=schema.STORED, missing_columns="insert")


def _parts(snap: Snapshot, rows_per_part: int) -> list[pl.LazyFrame]:
    """The snapshot's rows in parts (see `Store.scan_parts`)."""
    entries = snap.manifest.get("partitions", {})
    counts = [entries.get(_partition_key(path), {}).get("rows") for path, _ in snap.files]
    if not all(isinstance(c, int) for c in counts) or sum(counts) <= rows_per_part:
        return []
    parts: list[pl.LazyFrame] = []
    group: list[IO[bytes]] = []
    held = 0
    for (_, handle), count in zip(snap.files, counts, strict=True):
        if count > rows_per_part:
            starts = range(0, count, rows_per_part)
            for start in starts:
                # The last slice runs to the end, whatever the manifest's count says.
                length = rows_per_part if start != starts[-1] else None
                parts.append(_scan_files([handle]).slice(start, length))
            continue
        if group and held + count > rows_per_part:
            parts.append(_scan_files(group))
            group, held = [], 0
        group.append(handle)
        held += count
    if group:
        parts.append(_scan_files(group))
    return parts


def _split(frame: pl.DataFrame, column: str) -> dict[Any, pl.DataFrame]:
    """Rows by the value of a column, in order of first appearance; one value: no copy."""
    values = frame.get_column(column).unique(maintain_order=True).to_list()
    if len(values) == 1:
        return {values[0]: frame}
    return {
        key[0]: part
        for key, part in frame.partition_by(column, as_dict=True, maintain_order=True).items()
    }


def _by_time(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in time order (stable); a frame already in order is kept as it is."""
    if frame.get_column("ts").is_sorted():
        return frame
    return frame.sort("ts", maintain_order=True)


def _bucket(buckets: int) -> pl.Expr:
    """Which of `buckets` a row's message id hashes to (the same in every file of one run)."""
    return schema.message_id().hash() % buckets


def _spill(parts: Sequence[pl.LazyFrame], buckets: int, prefix: Path) -> list[list[Path]]:
    """The rows of `parts`, each collected once, in temporary files named `<prefix>-...` by the
    bucket their message id hashes to (as `Transaction.upsert_parts` merges them): the files of
    each bucket. On an error, the files written so far are removed."""
    out: list[list[Path]] = [[] for _ in range(buckets)]
    bucket = _bucket(buckets).alias("_bucket")
    try:
        for at, part in enumerate(parts):
            rows = part.with_columns(bucket).collect()
            for value, piece in _split(rows, "_bucket").items():
                path = prefix.with_name(f"{prefix.name}-{value}-{at}.parquet")
                out[value].append(path)
                piece.drop("_bucket").write_parquet(path, compression="lz4", statistics=False)
            del rows
    except BaseException:
        for path in itertools.chain.from_iterable(out):
            path.unlink(missing_ok=True)
        raise
    return out


def _writes(
    method: Callable[Concatenate[Transaction, _P], _R],
) -> Callable[Concatenate[Transaction, _P], _R]:
    """A transaction's writing step whose failed write (a full disk, say) is one StoreError;
    the transaction then discards what it staged, so the store is unchanged."""

    @functools.wraps(method)
    def wrapped(tx: Transaction, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(tx, *args, **kwargs)
        except (OSError, pl.exceptions.ComputeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreError(
                f"cannot write to the store {tx.store.root}: {reason.splitlines()[0]}",
                hint="Free some space there, or check that it is writable; it is unchanged.",
            ) from exc

    return wrapped


def _partition_key(path: Path) -> str:
    """`source/month` of a partition file."""
    source = path.parent.parent.name.removeprefix("source=")
    return f"{source}/{path.parent.name.removeprefix('month=')}"


def _apply(root: Path, renames: Sequence[tuple[str, str]]) -> None:
    """Carry out a journal's renames (paths relative to root); those already done are skipped."""
    folders = set()
    for tmp, final in renames:
        with contextlib.suppress(FileNotFoundError):  # renamed before its writer died
            os.replace(root / tmp, root / final)
        folders.add((root / final).parent)
    for folder in sorted(folders):
        _sync_dir(folder)
    with contextlib.suppress(FileNotFoundError):
        (root / JOURNAL).unlink()
    _sync_dir(root)


def _roll_forward(root: Path) -> None:
    """Finish the commit a dead writer left half applied; call with the commit lock exclusive."""
    journal = root / JOURNAL
    try:
        renames = [(str(a), str(b)) for a, b in json.loads(journal.read_bytes())["renames"]]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"cannot read the store's commit journal {journal}: {exc}",
            hint="Run `tokenlens store check`, or restore the folder from a backup.",
        ) from exc
    try:
        _apply(root, renames)
    except OSError as exc:
        raise StoreError(
            f"cannot finish an interrupted commit in the store {root}: {exc.strerror}",
            hint="Run `tokenlens ingest` with write access to the store.",
        ) from exc


def _room_for(count: int) -> None:
    """Raise the open-file limit, where allowed, so that a snapshot can hold count files open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * count + 64  # polars holds its own copy of each descriptor
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@dataclass
class Snapshot:
    """One commit's state: its manifest and its partition files, open."""

    manifest: dict[str, Any]
    files: list[tuple[Path, IO[bytes]]]

    def close(self) -> None:
        for _, handle in self.files:
            handle.close()


class Store:
    """A tokenlens store folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._scanned: dict[str, Any] | None = None  # the manifest of the last scan's snapshot
        self._scanned_keys: list[str] = []  # `source/month` of the partitions it read

    # reading -------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether a store was made here (an ingest killed before its first commit made one)."""
        return (self.root / MANIFEST).is_file() or (self.root / DATA).is_dir()

    def manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.exists():
            return {"schema_version": schema.SCHEMA_VERSION, "files": {}, "partitions": {}}
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"cannot read the store manifest {path}: {exc}",
                hint="Run `tokenlens store check`, or point --store at another folder.",
            ) from exc
        version = data.get("schema_version")
        if version != schema.SCHEMA_VERSION:
            raise StoreError(
                f"store {self.root} has schema version {version}; "
                f"this tokenlens reads version {schema.SCHEMA_VERSION}",
                hint="Use the tokenlens release that wrote it, or ingest into a new --store.",
            )
        return data

    def partition_files(self, sources: Sequence[str] | None = None) -> list[Path]:
        """The partition files, optionally only those of some sources."""
        data = self.root / DATA
        if not data.is_dir():
            return []
        out: list[Path] = []
        for source_dir in sorted(data.glob("source=*")):
            if sources and source_dir.name.removeprefix("source=") not in sources:
                continue
            out.extend(p for p in sorted(source_dir.glob(f"month=*/{PART}")) if p.is_file())
        return out

    def is_empty(self) -> bool:
        return not self.partition_files()

    def snapshot(self, sources: Sequence[str] | None = None) -> Snapshot:
        """The manifest and open partition files of the last complete commit.

        Holds the commit lock (shared) only while opening them; the caller closes the snapshot.
        """
        if not self.root.is_dir():
            if self.root.exists():  # a file, or something else that is not a folder
                raise StoreError(
                    f"the store {self.root} is not a folder",
                    hint="Give the store's folder with --store or TOKENLENS_STORE.",
                )
            return Snapshot(self.manifest(), [])
        with self._reading():
            manifest = self.manifest()
            paths = self.partition_files(sources)
            _room_for(len(paths))
            opened: list[tuple[Path, IO[bytes]]] = []
            try:
                for path in paths:
                    opened.append((path, open(path, "rb")))  # noqa: SIM115 (closed by the caller)
            except OSError as exc:
                Snapshot(manifest, opened).close()
                raise StoreError(
                    f"cannot open the store file {path}: {exc.strerror}",
                    hint="Check the store's permissions, or raise the open-file limit (ulimit -n).",
                ) from exc
        return Snapshot(manifest, opened)

    def scan(self, sources: Sequence[str] | None = None) -> pl.LazyFrame:
        """All stored rows (STORED schema) as one lazy frame, read from one snapshot.

        The frame keeps the snapshot's files open for as long as it lives, so every collect of it
        sees the same commit, whatever ingests finish in between.
        """
        return self._scan(sources, None)[0]

    def scan_parts(
        self, sources: Sequence[str] | None = None, *, rows_per_part: int | None = None
    ) -> tuple[pl.LazyFrame, list[pl.LazyFrame]]:
        """`scan`, and the same rows as parts of at most about `rows_per_part` rows each (small
        partitions together, a large one in slices), from the same snapshot. No parts when the
        rows fit in one, or when the manifest does not give every partition's row count. A
        partition holds every copy of its events, so parts share none."""
        return self._scan(sources, rows_per_part or PART_ROWS)

    def _scan(
        self, sources: Sequence[str] | None, rows_per_part: int | None
    ) -> tuple[pl.LazyFrame, list[pl.LazyFrame]]:
        snap = self.snapshot(sources)
        self._scanned = snap.manifest
        self._scanned_keys = [_partition_key(path) for path, _ in snap.files]
        try:
            if not snap.files:
                return schema.empty(schema.STORED).lazy(), []
            whole = _scan_files([handle for _, handle in snap.files])
            return whole, _parts(snap, rows_per_part) if rows_per_part else []
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise StoreError(
                f"cannot read the store {self.root}: {exc}",
                hint="Run `tokenlens store check` to find the damaged file.",
            ) from exc
        finally:
            snap.close()  # polars holds descriptors of its own

    def empty_columns(self) -> frozenset[str]:
        """The columns no row of the last scan holds a value in, as the manifest records them
        (none for a partition written before it did)."""
        parts = (self._scanned or {}).get("partitions", {})
        found = [parts.get(key, {}).get("empty_columns") for key in self._scanned_keys]
        if not found or any(not isinstance(names, list) for names in found):
            return frozenset()
        return frozenset.intersection(*(frozenset(map(str, names)) for names in found))

    def price_versions(self) -> set[str]:
        """The price versions of the stored rows: of the last scan's snapshot, else current."""
        manifest = self._scanned if self._scanned is not None else self.manifest()
        parts = manifest.get("partitions", {})
        return {p.get("price_version", "") for p in parts.values()}

    def stamps(self, files: Sequence[Path]) -> dict[str, Stamp]:
        """Size and mtime of files, keyed as the manifest records them; taken before reading."""
        out = {}
        for path, key in zip(files, file_keys(files), strict=True):
            stamp = _stamp(path)
            if stamp is not None:
                out[key] = stamp
        return out

    def changed_files(self, files: Sequence[Path]) -> list[Path]:
        """The files whose size or mtime differ from when they were last ingested."""
        seen = self.manifest().get("files", {})
        out = []
        for path, key in zip(files, file_keys(files), strict=True):
            stamp = _stamp(path)
            if stamp is None or seen.get(key) != stamp:
                out.append(path)
        return out

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the commit lock shared, after finishing any commit a dead writer left."""
        try:
            fd = os.open(self.root / COMMIT_LOCK, os.O_RDONLY | os.O_CREAT, 0o600)
        except OSError:  # a store this user cannot lock is one this user is not writing
            fd = -1
        try:
            while fd >= 0:
                if not _flock(fd, fcntl.LOCK_SH, LOCK_WAIT_S):
                    raise StoreError(
                        f"the store {self.root} has been mid-commit for {LOCK_WAIT_S:.0f} s",
                        hint="Run the command again; if it persists, look for a stopped ingest.",
                    )
                if not (self.root / JOURNAL).exists():
                    break
                if _flock(fd, fcntl.LOCK_EX, LOCK_WAIT_S):  # the journal's writer is dead
                    _roll_forward(self.root)
            yield
        finally:
            if fd >= 0:
                os.close(fd)

    @contextlib.contextmanager
    def _committing(self) -> Iterator[None]:
        """Hold the commit lock exclusively: no reader is opening a snapshot meanwhile."""
        fd = os.open(self.root / COMMIT_LOCK, os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            if not _flock(fd, fcntl.LOCK_EX, LOCK_WAIT_S):
                raise StoreError(
                    f"a reader has held the store {self.root} for {LOCK_WAIT_S:.0f} s",
                    hint="Run the command again once the report reading it has finished.",
                )
            yield
        finally:
            os.close(fd)

    # writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
        """Be the store's one writer: finish or clear what a dead writer left, then hold the lock.

        The kernel releases the lock when its holder dies, so a killed ingest never blocks the
        next one; another live writer is waited for up to wait_s.
        """
        self._ensure_dirs()
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _flock(fd, fcntl.LOCK_EX, wait_s):
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                raise StoreError(
                    f"another tokenlens ingest{f' (pid {holder})' if holder else ''} "
                    f"holds the store {self.root}",
                    hint="Wait for it to finish, then run the command again.",
                )
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            with self._committing():
                _roll_forward(self.root)
                self._clean_temporaries()
            yield
        finally:
            os.close(fd)

    def _ensure_dirs(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.root / DATA).mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store {self.root}: {exc.strerror}",
                hint="Choose a writable folder with --store or TOKENLENS_STORE.",
            ) from exc

    def _clean_temporaries(self) -> None:
        """Remove a dead writer's uncommitted files and empty partition folders."""
        for tmp in self.root.rglob(f"*{TMP_MARK}*"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        for folder in sorted((self.root / DATA).glob("source=*/month=*")):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage changes, committed together when the block ends; call with the lock held.

        An exception inside the block leaves the store as it was.
        """
        tx = Transaction(self)
        try:
            yield tx
        except BaseException:
            tx.discard()
            raise
        tx.commit()

    def upsert(
        self,
        frame: pl.DataFrame,
        *,
        merges: Mapping[str, Merge],
        files: Sequence[Path] = (),
        stamps: Mapping[str, Stamp] | None = None,
    ) -> IngestStats:
        """Merge rows (STORED schema) into their partitions, one commit; call with the lock held."""
        with self.transaction() as tx:
            return tx.upsert(frame, merges=merges, files=files, stamps=stamps)

    def rewrite(self, transform: Callable[[pl.LazyFrame], pl.LazyFrame]) -> int:
        """Apply a row transform to every partition in one commit; call with the lock held."""
        with self.transaction() as tx:
            return tx.rewrite(transform)

    # integrity ---------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems found in the store (empty when it is sound), read from one snapshot.

        Every partition file must be readable with the stored schema and sit in the partition
        its rows belong to; no (source, event_id) may appear twice; the manifest must list
        each partition with its row count.
        """
        problems: list[str] = []
        try:
            snap = self.snapshot()
        except StoreError as exc:
            return [exc.message]
        try:
            listed = dict(snap.manifest.get("partitions", {}))
            frames = []
            for path, handle in snap.files:
                source = path.parent.parent.name.removeprefix("source=")
                month = path.parent.name.removeprefix("month=")
                try:
                    frame = pl.read_parquet(handle)
                except (OSError, pl.exceptions.PolarsError) as exc:
                    problems.append(f"{path}: unreadable ({exc})")
                    continue
                missing = [c for c in schema.STORED if c not in frame.columns]
                if missing:
                    problems.append(f"{path}: missing columns {', '.join(missing)}")
                    continue
                wrong = frame.filter(
                    (pl.col("source") != source) | (pl.col("ts").dt.strftime("%Y-%m") != month)
                ).height
                if wrong:
                    problems.append(f"{path}: {wrong} rows belong to another partition")
                entry = listed.pop(f"{source}/{month}", None)
                if entry is None:
                    problems.append(f"{path}: not in the manifest")
                    entry = {}
                elif entry.get("rows") != frame.height:
                    problems.append(
                        f"{path}: manifest says {entry.get('rows')} rows, "
                        f"the file holds {frame.height}"
                    )
                listed_empty = entry.get("empty_columns", [])
                if not isinstance(listed_empty, list) or not set(listed_empty) <= set(
                    schema.STORED
                ):
                    problems.append(
                        f"{path}: the manifest's empty_columns is not a list of column names"
                    )
                    listed_empty = []
                held = [
                    c
                    for c in listed_empty
                    if c in frame.columns and frame.get_column(c).null_count() < frame.height
                ]
                if held:
                    problems.append(
                        f"{path}: manifest says {', '.join(held)} hold no values, the file has some"
                    )
                frames.append(frame.select(schema.KEY))
        finally:
            snap.close()
        for key in sorted(listed):
            problems.append(f"manifest lists partition {key}, which has no file")
        if frames:
            keys = pl.concat(frames)
            duplicates = keys.height - keys.unique().height
            if duplicates:
                problems.append(f"{duplicates} (source, event_id) keys appear more than once")
        return problems

    def compact(self) -> int:
        """Rewrite every partition as one sorted, compressed file; call with the lock held."""
        return self.rewrite(lambda lf: lf.sort("ts", "event_id"))


class Transaction:
    """Partition files and a manifest staged beside a store's own, committed all at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.manifest = store.manifest()
        self._token = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._serial = itertools.count()
        self._staged: dict[Path, Path] = {}  # partition file -> the temporary file replacing it
        self._new_folders: set[Path] = set()
        self._changed = False

    def _temp(self, path: Path) -> Path:
        return path.with_name(f"{path.name}{TMP_MARK}{self._token}-{next(self._serial)}")

    def _current(self, path: Path) -> Path | None:
        """Where a partition's latest rows are: its staged file, its committed one, or none."""
        staged = self._staged.get(path)
        if staged is not None:
            return staged
        return path if path.is_file() else None

    def _stage(self, path: Path, frame: pl.DataFrame) -> None:
        tmp = self._new_temp(path)
        _write_parquet(tmp, frame)
        self._staged_as(path, tmp, _partition_entry(frame))

    def _new_temp(self, path: Path) -> Path:
        """A temporary file to stage `path` in, its folders made."""
        folder = path.parent
        if not folder.is_dir():
            for parent in reversed([folder, *folder.parents]):
                if not parent.is_dir():
                    parent.mkdir(mode=0o700)
                    self._new_folders.add(parent)
        return self._temp(path)

    def _staged_as(self, path: Path, tmp: Path, entry: dict[str, Any]) -> None:
        """Record `tmp` as the new `path`, with its manifest entry."""
        superseded = self._staged.get(path)
        self._staged[path] = tmp
        if superseded is not None and superseded != tmp:
            superseded.unlink()
        self.manifest.setdefault("partitions", {})[_partition_key(path)] = entry
        self._changed = True

    def partitions(self) -> list[Path]:
        """Every partition file, committed or staged."""
        return sorted({*self.store.partition_files(), *self._staged})

    def price_versions(self) -> set[str]:
        parts = self.manifest.get("partitions", {})
        return {p.get("price_version", "") for p in parts.values()}

    @_writes
    def upsert(
        self,
        frame: pl.DataFrame,
        *,
        merges: Mapping[str, Merge],
        files: Sequence[Path] = (),
        stamps: Mapping[str, Stamp] | None = None,
    ) -> IngestStats:
        """Merge rows (STORED schema) into their partitions and record the files they came from.

        Where the stored rows of the months they touch number more than `UPSERT_ROWS` and the
        source's merge needs only the copies of one message (`BY_MESSAGE`), only the stored
        rows sharing a message id are read, and the rest streamed (`_upsert_streaming`).
        stamps holds each file's size and mtime from before it was read (Store.stamps), so a
        file that grew while it was being read is read again by the next ingest.
        """
        stats = IngestStats(rows_in=frame.height)
        frame = frame.with_columns(_month=_month())
        for source, new in _split(frame, "source").items():
            months = {_month_name(m) for m in new.get_column("_month").unique().to_list()}
            months |= self._months_sharing_keys(source, new.get_column("event_id"))
            merge = merges.get(source, keep_newest)
            large = self._stored_rows(source, months) > UPSERT_ROWS
            if large and _by_message(source, merge):  # the stored rows streamed, not read whole
                conformed = schema.conform(new.lazy(), schema.STORED).collect()
                stats.added += self._upsert_streaming(source, conformed, sorted(months), merge)
                stats.partitions_written += len(months)
                continue
            paths = {m: self._path(source, m) for m in sorted(months)}
            currents = {m: self._current(path) for m, path in paths.items()}
            olds = [
                schema.conform(pl.scan_parquet(current), schema.STORED).collect()
                for current in currents.values()
                if current is not None
            ]
            old_rows = sum(old.height for old in olds)
            rows = schema.conform(new.lazy(), {**schema.STORED, "_month": pl.Int32()}).collect(
                engine="in-memory"
            )
            if olds:
                combined = pl.concat([rows.drop("_month"), *olds]).lazy()
                merged = schema.conform(merge(combined), schema.STORED)
                rows = merged.with_columns(_month=_month()).collect(engine="in-memory")
            parts = {_month_name(m): part for m, part in _split(rows, "_month").items()}
            for month, path in paths.items():
                part = parts.get(month)
                if part is not None or currents[month] is not None:
                    part = schema.empty(schema.STORED) if part is None else part.drop("_month")
                    self._stage(path, _by_time(part))
                    stats.partitions_written += 1
            stats.added += rows.height - old_rows
        self._record_files(files, stamps)
        return stats

    def _upsert_streaming(
        self, source: str, new: pl.DataFrame, months: Sequence[str], merge: Merge
    ) -> int:
        """Merge a source's new rows into the given months' partitions without reading them
        whole: only the stored rows sharing a message id with a new row can change (every copy
        of a call shares its message id), so those are merged with the new rows in memory, and
        each partition is rewritten by a streaming copy of its other rows followed by its
        merged ones. The rows added."""
        messages = new.select(schema.message_id()).to_series().unique().implode()
        touched = schema.message_id().is_in(messages)
        paths = {m: self._path(source, m) for m in months}
        currents = {m: c for m, path in paths.items() if (c := self._current(path)) is not None}
        olds = [
            schema.conform(pl.scan_parquet(c), schema.STORED).filter(touched).collect()
            for c in currents.values()
        ]
        old_rows = sum(old.height for old in olds)
        merged = schema.conform(merge(pl.concat([new, *olds]).lazy()), schema.STORED)
        rows = merged.with_columns(_month=_month()).collect()
        del olds
        by_month = {_month_name(m): part for m, part in _split(rows, "_month").items()}
        for month, path in paths.items():
            piece = by_month.get(month)
            current = currents.get(month)
            if piece is None and current is None:
                continue
            frames = [] if piece is None else [_by_time(piece.drop("_month")).lazy()]
            if current is not None:
                stored = schema.conform(pl.scan_parquet(current), schema.STORED)
                kept = stored.filter(~touched.fill_null(value=False))
                frames.insert(0, kept)
            tmp = self._new_temp(path)
            try:
                _write_parquet(tmp, pl.concat(frames) if frames else schema.empty(schema.STORED))
                entry = _partition_entry(pl.scan_parquet(tmp))
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            self._staged_as(path, tmp, entry)
        return rows.height - old_rows

    @_writes
    def upsert_parts(
        self,
        parts: Sequence[pl.LazyFrame],
        *,
        merges: Mapping[str, Merge],
        files: Sequence[Path] = (),
        stamps: Mapping[str, Stamp] | None = None,
        rows_at_once: int | None = None,
    ) -> IngestStats:
        """`upsert` of rows too many to hold at once, given as lazy parts (STORED schema).

        The rows, new and stored, are merged a bucket at a time, a bucket being the rows whose
        message id (`schema.message_id`) hashes to it, so that every copy of an event meets
        every other; there are enough buckets for each to hold about `rows_at_once` rows. Each
        part is collected once, its rows put in temporary files by bucket; each partition the
        upsert touches is written a bucket's rows after another. When no month the rows touch
        is stored yet, the parts, which share no event, are written one after another as they
        are. This process holds one part's or one bucket's rows, whatever the size of a month.
        A source whose merge needs more than a message's copies (see `BY_MESSAGE`) is upserted
        whole.
        """
        rows_at_once = rows_at_once or UPSERT_ROWS
        stats = IngestStats()
        counted = (
            pl.concat([part.select("source", _month().alias("_month")) for part in parts])
            .group_by("source", "_month")
            .len()
            .collect()
        )
        for source in sorted(counted.get_column("source").unique().drop_nulls().to_list()):
            mine = counted.filter(pl.col("source") == source)
            months = {_month_name(m) for m in mine.get_column("_month").to_list()}
            new = [
                schema.conform(part.filter(pl.col("source") == source), schema.STORED)
                for part in parts
            ]
            merge = merges.get(source, keep_newest)
            if not _by_message(source, merge):  # its months merged whole, as `upsert` does
                whole = self.upsert(pl.concat([part.collect() for part in new]), merges=merges)
                stats.rows_in += whole.rows_in
                stats.added += whole.added
                stats.partitions_written += whole.partitions_written
                continue
            if self._holds(source):
                for part in new:
                    ids = part.select("event_id").collect().get_column("event_id")
                    months |= self._months_sharing_keys(source, ids)
            fresh = int(mine.get_column("len").sum())
            stats.rows_in += fresh
            stats.added += self._upsert_source(
                source, new, fresh=fresh, months=months, merge=merge, rows_at_once=rows_at_once
            )
            stats.partitions_written += len(months)
        self._record_files(files, stamps)
        return stats

    def _upsert_source(
        self,
        source: str,
        new: Sequence[pl.LazyFrame],
        *,
        fresh: int,
        months: set[str],
        merge: Merge,
        rows_at_once: int,
    ) -> int:
        """`upsert_parts` of one source's `fresh` new rows into the given months (those they
        fall in and those holding copies of their events); the rows added."""
        if not any(self._current(self._path(source, m)) for m in months):
            # Nothing stored to meet, and the parts share no event: each is written as it is.
            as_is: Iterator[Batch] = ((part.collect(), None) for part in new)
            return self._merge_in_buckets(source, as_is, sorted(months), merge)
        stored = self._stored_rows(source, months)
        buckets = max(1, -(-(stored + fresh) // max(rows_at_once, 1)))
        by_bucket = _spill(new, buckets, self._temp(self.store.root / "upsert"))
        try:
            in_buckets: Iterator[Batch] = (
                (
                    pl.read_parquet(pieces) if pieces else schema.empty(schema.STORED),
                    _bucket(buckets) == bucket,
                )
                for bucket, pieces in enumerate(by_bucket)
            )
            return self._merge_in_buckets(source, in_buckets, sorted(months), merge)
        finally:
            for path in itertools.chain.from_iterable(by_bucket):
                path.unlink(missing_ok=True)

    def _stored_rows(self, source: str, months: Iterable[str]) -> int:
        """The rows a source's partitions of these months hold, as the manifest counts them."""
        entries = self.manifest.get("partitions", {})
        return sum(int(entries.get(f"{source}/{m}", {}).get("rows", 0)) for m in months)

    def _holds(self, source: str) -> bool:
        """Whether a partition of `source` is stored or staged."""
        return any(path.parent.parent.name == f"source={source}" for path in self.partitions())

    def _merge_in_buckets(
        self,
        source: str,
        batches: Iterable[Batch],
        months: Sequence[str],
        merge: Merge,
    ) -> int:
        """Merge a source's new rows into the given months' partitions a batch at a time (see
        `upsert_parts`): each batch's rows with the stored rows its filter selects (none when
        it has none); the rows added."""
        paths = {m: self._path(source, m) for m in months}
        currents = {m: c for m, path in paths.items() if (c := self._current(path)) is not None}
        writers = {m: _PartitionWriter(self._new_temp(path)) for m, path in paths.items()}
        added = 0
        try:
            for fresh, mine in batches:
                olds = [
                    schema.conform(pl.scan_parquet(c), schema.STORED)
                    .filter(mine)
                    .collect(engine="streaming")
                    for c in currents.values()
                    if mine is not None
                ]
                old_rows = sum(old.height for old in olds)
                rows = fresh
                if olds:
                    combined = pl.concat([fresh, *olds]).lazy()
                    rows = schema.conform(merge(combined), schema.STORED).collect()
                del olds, fresh
                added += rows.height - old_rows
                by_month = _split(rows.with_columns(_month=_month()), "_month")
                for month, piece in by_month.items():
                    writers[_month_name(month)].write(_by_time(piece.drop("_month")))
                del rows, by_month
            for month, writer in writers.items():
                if writer.rows or month in currents:
                    self._staged_as(paths[month], writer.path, writer.close())
                else:  # its new rows all lost to copies in other months
                    writer.abandon()
        except BaseException:
            for writer in writers.values():
                writer.abandon()
            raise
        return added

    def _record_files(self, files: Sequence[Path], stamps: Mapping[str, Stamp] | None) -> None:
        """Record files as ingested, with the size and mtime they had before they were read."""
        seen = self.manifest.setdefault("files", {})
        for path, key in zip(files, file_keys(files), strict=True):
            stamp = (stamps or {}).get(key) or _stamp(path)
            if stamp is not None:
                seen[key] = list(stamp)
                self._changed = True

    def _path(self, source: str, month: str) -> Path:
        return self.store.root / DATA / f"source={source}" / f"month={month}" / PART

    def _months_sharing_keys(self, source: str, event_ids: pl.Series) -> set[str]:
        """Months of `source` already holding a copy of one of these events, or of the same
        message (`<message>:<request>` ids): copies of one call can carry different dates, a
        stream across midnight or a replay days later, and must meet to be merged."""
        files = [
            current
            for path in self.partitions()
            if path.parent.parent.name == f"source={source}"
            and (current := self._current(path)) is not None
        ]
        if not files:
            return set()
        ids = event_ids.unique()
        messages = ids.to_frame("event_id").select(schema.message_id()).to_series().unique()
        stored = pl.col("event_id")
        hits = (
            pl.scan_parquet(files, include_file_paths="_file")
            .select("event_id", "_file")
            .filter(stored.is_in(ids.implode()) | schema.message_id().is_in(messages.implode()))
            .select(pl.col("_file").unique())
            .collect()
        )
        return {Path(f).parent.name.removeprefix("month=") for f in hits.get_column("_file")}

    @_writes
    def rewrite(self, transform: Callable[[pl.LazyFrame], pl.LazyFrame]) -> int:
        """Apply a row transform (e.g. re-pricing) to every partition."""
        count = 0
        for path in self.partitions():
            current = self._current(path)
            assert current is not None
            lf = transform(pl.scan_parquet(current))
            self._stage(path, schema.conform(lf, schema.STORED).collect())
            count += 1
        return count

    def discard(self) -> None:
        """Remove the staged files; the store stays as it was."""
        for tmp in self._staged.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._staged.clear()
        self._changed = False

    def commit(self) -> None:
        """Make every staged change visible at once (see the module doc for the protocol)."""
        if not self._changed:
            return
        root = self.store.root
        self.manifest["schema_version"] = schema.SCHEMA_VERSION
        manifest_tmp = self._temp(root / MANIFEST)
        try:
            _write_bytes(manifest_tmp, _manifest_bytes(self.manifest))
            self._staged[root / MANIFEST] = manifest_tmp  # renamed last, removed by discard()
            folders = {tmp.parent for tmp in self._staged.values()}
            for folder in sorted(folders | {f.parent for f in self._new_folders}):
                _sync_dir(folder)
            renames = [
                (str(tmp.relative_to(root)), str(path.relative_to(root)))
                for path, tmp in self._staged.items()
            ]
        except BaseException:
            self.discard()
            raise
        with self.store._committing():
            try:
                _atomic_write_bytes(root / JOURNAL, json.dumps({"renames": renames}).encode())
                _sync_dir(root)
            except BaseException:
                if not (root / JOURNAL).exists():  # before the commit point: nothing happened
                    self.discard()
                    raise
                _apply(root, renames)  # interrupted past the commit point: finish, then stop
                raise
            _apply(root, renames)  # should this fail, the next reader or writer finishes it
        self._staged.clear()
        self._changed = False
