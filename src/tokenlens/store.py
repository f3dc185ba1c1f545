"""The archive: a Parquet dataset partitioned by source and month, upserted atomically.

Layout under the store folder:

    manifest.json                      schema version, files already ingested, price versions
    data/source=<s>/month=<YYYY-MM>/part.parquet
    lock                               held (flock) by the one ingest that may write

Each partition is one file, rewritten whole on upsert: written to a temporary file beside it,
synced, then renamed over the old one, so a reader sees the old or the new partition, never a mix.
The manifest is written the same way, after the partitions, so a crash at any point leaves a
store that a re-run brings to exactly the state of an uninterrupted ingest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from tokenlens import schema
from tokenlens.errors import StoreError

MANIFEST: Final = "manifest.json"
DATA: Final = "data"
LOCK: Final = "lock"
PART: Final = "part.parquet"
TMP_MARK: Final = ".tmp-"
LOCK_WAIT_S: Final = 30.0

Merge = Callable[[pl.LazyFrame], pl.LazyFrame]


def keep_newest(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Default identity rule: one row per (source, event_id); the first (newest) copy wins."""
    return lf.unique(subset=list(schema.KEY), keep="first", maintain_order=True)


@dataclass
class IngestStats:
    rows_in: int = 0
    added: int = 0
    partitions_written: int = 0


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _atomic_write_parquet(path: Path, frame: pl.DataFrame) -> None:
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")
    try:
        frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _partition_entry(frame: pl.DataFrame) -> dict[str, Any]:
    """What the manifest records of a partition: its row count and the prices it was priced at."""
    versions = frame.get_column("price_version").unique().drop_nulls().to_list()
    return {"rows": frame.height, "price_version": versions[0] if len(versions) == 1 else "mixed"}


class Store:
    """A tokenlens store folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # reading -------------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.root / MANIFEST).is_file()

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

    def scan(self, sources: Sequence[str] | None = None) -> pl.LazyFrame:
        """All stored rows (STORED schema) as one lazy frame."""
        self.manifest()
        files = self.partition_files(sources)
        if not files:
            return schema.empty(schema.STORED).lazy()
        try:
            return pl.scan_parquet(files, schema=schema.STORED, missing_columns="insert")
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise StoreError(
                f"cannot read the store {self.root}: {exc}",
                hint="Run `tokenlens store check` to find the damaged file.",
            ) from exc

    def price_versions(self) -> set[str]:
        parts = self.manifest().get("partitions", {})
        return {p.get("price_version", "") for p in parts.values()}

    def changed_files(self, files: Sequence[Path]) -> list[Path]:
        """The files whose size or mtime differ from when they were last ingested."""
        seen = self.manifest().get("files", {})
        out = []
        for path in files:
            try:
                st = path.stat()
            except OSError:
                out.append(path)
                continue
            prior = seen.get(str(path.resolve()))
            if prior is None or prior != [st.st_size, st.st_mtime_ns]:
                out.append(path)
        return out

    # writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
        """Hold the store's write lock. The OS releases it if the holder dies."""
        self._ensure_dirs()
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"another tokenlens ingest holds the store {self.root}",
                            hint="Wait for it to finish, then run the command again.",
                        ) from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
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
        for tmp in self.root.rglob(f"*{TMP_MARK}*"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def upsert(
        self,
        frame: pl.DataFrame,
        *,
        merges: Mapping[str, Merge],
        files: Sequence[Path] = (),
    ) -> IngestStats:
        """Merge rows (STORED schema) into their partitions; call with the lock held."""
        manifest = self.manifest()
        stats = IngestStats(rows_in=frame.height)
        frame = frame.with_columns(_month=pl.col("ts").dt.strftime("%Y-%m"))
        partitions = manifest.setdefault("partitions", {})
        for (source, month), part in frame.group_by("source", "_month", maintain_order=True):
            assert isinstance(source, str) and isinstance(month, str)
            folder = self.root / DATA / f"source={source}" / f"month={month}"
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = folder / PART
            new = part.drop("_month")
            old_rows = 0
            if path.exists():
                old = pl.read_parquet(path)
                old_rows = old.height
                combined = pl.concat([new, schema.conform(old.lazy(), schema.STORED).collect()])
                merge = merges.get(source, keep_newest)
                merged = schema.conform(merge(combined.lazy()), schema.STORED).collect(
                    engine="in-memory"
                )
            else:  # a loader's rows are already deduplicated by the same rule
                merged = schema.conform(new.lazy(), schema.STORED).collect()
            merged = merged.sort("ts", maintain_order=True)
            _atomic_write_parquet(path, merged)
            stats.added += merged.height - old_rows
            stats.partitions_written += 1
            partitions[f"{source}/{month}"] = _partition_entry(merged)
        seen = manifest.setdefault("files", {})
        for path in files:
            with contextlib.suppress(OSError):
                st = path.stat()
                seen[str(path.resolve())] = [st.st_size, st.st_mtime_ns]
        manifest["schema_version"] = schema.SCHEMA_VERSION
        _atomic_write_bytes(
            self.root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode()
        )
        return stats

    def rewrite(self, transform: Callable[[pl.LazyFrame], pl.LazyFrame]) -> int:
        """Apply a row transform to every partition (e.g. re-pricing); call with the lock held."""
        manifest = self.manifest()
        partitions = manifest.setdefault("partitions", {})
        count = 0
        for path in self.partition_files():
            frame = schema.conform(transform(pl.scan_parquet(path)), schema.STORED).collect()
            _atomic_write_parquet(path, frame)
            key = f"{path.parent.parent.name.removeprefix('source=')}/"
            key += path.parent.name.removeprefix("month=")
            partitions[key] = _partition_entry(frame)
            count += 1
        _atomic_write_bytes(
            self.root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode()
        )
        return count

    # integrity ---------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems found in the store (empty when it is sound).

        Every partition file must be readable with the stored schema and sit in the partition
        its rows belong to; no (source, event_id) may appear twice; the manifest must list
        each partition with its row count.
        """
        problems: list[str] = []
        try:
            manifest = self.manifest()
        except StoreError as exc:
            return [exc.message]
        listed = dict(manifest.get("partitions", {}))
        frames = []
        for path in self.partition_files():
            source = path.parent.parent.name.removeprefix("source=")
            month = path.parent.name.removeprefix("month=")
            key = f"{source}/{month}"
            try:
                frame = pl.read_parquet(path)
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
            entry = listed.pop(key, None)
            if entry is None:
                problems.append(f"{path}: not in the manifest")
            elif entry.get("rows") != frame.height:
                problems.append(
                    f"{path}: manifest says {entry.get('rows')} rows, the file holds {frame.height}"
                )
            frames.append(frame.select(schema.KEY))
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
