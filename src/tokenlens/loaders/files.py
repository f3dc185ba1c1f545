"""Opening export files: gzip-compressed copies, UTF-16 text, byte-order marks, JSON arrays.

Every loader reads its files through here, so a `.jsonl.gz` or `.csv.gz` loads like the plain
file, a UTF-16 file (Excel's "Unicode" CSV) like its UTF-8 twin, and a byte-order mark never
reaches a parser. What comes out is UTF-8 text as bytes.

Polars-free on purpose: detection and the Claude Code reader use it before polars loads.
"""

from __future__ import annotations

import codecs
import gzip
import io
import mmap
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import msgspec

from tokenlens.errors import InputError

GZIP_MAGIC: Final = b"\x1f\x8b"
ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
UTF8_BOM: Final = codecs.BOM_UTF8
UTF16_BOMS: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
COMPRESSED: Final = ".gz"
ARCHIVES: Final = (".zip",)
# What reading a file can raise: the OS, and gzip on a damaged or cut-off stream.
READ_ERRORS: Final = (OSError, EOFError, zlib.error)

_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()


def plain_name(path: Path) -> str:
    """The file name without a `.gz` ending: what the content is (`usage.csv.gz` -> `usage.csv`)."""
    name = path.name
    return name[: -len(COMPRESSED)] if name.lower().endswith(COMPRESSED) else name


def plain_stem(path: Path) -> str:
    """The plain name without its last suffix (`s1.jsonl.gz` -> `s1`)."""
    return Path(plain_name(path)).stem


def plain_suffix(path: Path) -> str:
    """The lower-cased suffix of the plain name (`.jsonl` for `s1.jsonl.gz`)."""
    return Path(plain_name(path)).suffix.lower()


def reason(exc: BaseException) -> str:
    """A short human reason for a read failure."""
    if isinstance(exc, FileNotFoundError) and exc.filename and os.path.islink(exc.filename):
        return "a symbolic link to a missing file"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, EOFError):
        return "compressed file is cut off"
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return "damaged gzip data"
    return str(exc) or type(exc).__name__


def cannot_read(path: Path, exc: BaseException) -> InputError:
    if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
        hint = "Check the path and its permissions."
    else:
        hint = "The file is damaged or cut short; copy or download it again."
    return InputError(f"{path}: cannot read: {reason(exc)}", hint=hint)


def is_archive(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def archive_error(path: Path) -> InputError:
    return InputError(
        f"{path}: a zip archive; tokenlens reads the files inside it, not the archive",
        hint="Unzip it and give the folder (gzip-compressed .jsonl.gz / .csv.gz files are read "
        "as they are).",
    )


def _utf8(data: bytes) -> bytes:
    """UTF-16 text (found by its byte-order mark) as UTF-8; a UTF-8 byte-order mark removed."""
    if data.startswith(UTF16_BOMS):
        return data.decode("utf-16", "replace").encode("utf-8")
    return data.removeprefix(UTF8_BOM)


def open_stream(path: Path) -> BinaryIO:
    """The file as a stream of UTF-8 bytes: gunzipped, UTF-16 transcoded, byte-order mark skipped.

    A plain UTF-8 file is the open file itself (positioned after a byte-order mark), so large
    files stream. Raises what `open` and gzip raise (`READ_ERRORS`).
    """
    raw = open(path, "rb")  # noqa: SIM115 (returned to the caller, who closes it)
    try:
        head = raw.read(4)
        if head.startswith(GZIP_MAGIC):
            raw.close()
            unzipped = gzip.open(path, "rb")  # noqa: SIM115 (returned; closes its own file)
            try:
                inner = unzipped.peek(4)[:4]
                if inner.startswith(UTF16_BOMS):
                    with unzipped:
                        return io.BytesIO(_utf8(unzipped.read()))
                if inner.startswith(UTF8_BOM):
                    unzipped.read(len(UTF8_BOM))
            except BaseException:
                unzipped.close()
                raise
            return unzipped  # type: ignore[return-value]
        if head.startswith(UTF16_BOMS):
            data = _utf8(head + raw.read())
            raw.close()
            return io.BytesIO(data)
        raw.seek(len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0)
        return raw
    except BaseException:
        raw.close()
        raise


def read_bytes(path: Path) -> bytes:
    """The whole file as UTF-8 bytes (see `open_stream`); an InputError when it cannot be read."""
    try:
        with open_stream(path) as handle:
            return handle.read()
    except READ_ERRORS as exc:
        raise cannot_read(path, exc) from exc


def read_head(path: Path, size: int) -> bytes:
    """The first `size` bytes of the file's UTF-8 text (fewer at its end). Raises `READ_ERRORS`."""
    want = 2 * size + 4  # room for a byte-order mark, or for UTF-16's two bytes a character
    with open(path, "rb") as raw:
        head = raw.read(want)
    if head.startswith(GZIP_MAGIC):
        with gzip.open(path, "rb") as unzipped:
            head = unzipped.read(want)
    if head.startswith(UTF16_BOMS):
        body = head[: len(head) - len(head) % 2]
        return body.decode("utf-16", "replace").encode("utf-8")[:size]
    return head.removeprefix(UTF8_BOM)[:size]


def holds_any(data: Path | bytes, needles: tuple[bytes, ...]) -> bool:
    """Whether the file (mapped, not read) or the bytes contain any of the needles."""
    if isinstance(data, bytes):
        return any(needle in data for needle in needles)
    try:
        with open(data, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return any(mapped.find(needle) >= 0 for needle in needles)
    except READ_ERRORS as exc:
        raise cannot_read(data, exc) from exc


def ends_with_line_break(data: Path | bytes) -> bool:
    """Whether the file or the bytes end with `\\n` (False for an empty or unreadable file)."""
    if isinstance(data, bytes):
        return data.endswith(b"\n")
    try:
        with open(data, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return False
            handle.seek(size - 1)
            return handle.read(1) == b"\n"
    except OSError:
        return False


def is_plain(path: Path) -> bool:
    """True when the file is UTF-8 text as stored (no gzip, no UTF-16): parsers may open it."""
    with open(path, "rb") as raw:
        head = raw.read(4)
    return not head.startswith((GZIP_MAGIC, *UTF16_BOMS))


def array_to_lines(data: bytes) -> bytes:
    """A JSON array of records as JSON lines, one element per line; other text unchanged.

    Lets a JSON-lines reader take a file saved as one array (`jq -s`, a script's `json.dump`).
    """
    if data.lstrip()[:1] != b"[":
        return data
    try:
        items = _ARRAY.decode(data)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return data
    lines = []
    for item in items:
        text = bytes(item)
        if b"\n" in text or b"\r" in text:
            try:  # one line per element: a pretty-printed element is written compact
                text = msgspec.json.encode(_ANY.decode(text))
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                text = text.replace(b"\r", b" ").replace(b"\n", b" ")
        lines.append(text)
    return b"\n".join(lines) + b"\n"


# Errors of decoding JSON: malformed text, nesting deeper than the interpreter's recursion
# limit, and invalid UTF-8 inside a string.
JSON_ERRORS: Final = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


@dataclass
class Documents:
    """The top-level JSON values of a file, and what could not be read."""

    values: list[Any] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)  # JSON lines skipped (1-based)
    repaired: bool = False  # invalid UTF-8 was replaced


def not_json(path: Path, exc: BaseException) -> InputError:
    if isinstance(exc, RecursionError):
        return InputError(
            f"{path}: JSON nested too deeply to read",
            hint="This is not an export as the vendor writes it; download it again.",
        )
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(
        f"{path}: not valid JSON ({first})",
        hint="Save the response body as it came, one document per file or per line; "
        "download it again if it was cut short.",
    )


def _whole(data: bytes) -> tuple[list[Any] | None, BaseException | None]:
    try:
        return [_ANY.decode(data)], None
    except JSON_ERRORS as exc:
        return None, exc


def json_documents(path: Path, data: bytes) -> Documents:
    """One JSON document, or JSON lines (one document per line, as saved pages often are).

    Invalid UTF-8 is replaced. In JSON lines, a line that cannot be read is skipped and listed;
    a file whose first line is not a JSON document at all is not JSON (an InputError).
    """
    out = Documents()
    values, whole = _whole(data)
    if isinstance(whole, UnicodeDecodeError):
        data = data.decode("utf-8", "replace").encode("utf-8")
        out.repaired = True
        values, whole = _whole(data)
    if values is not None:
        out.values = values
        return out
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            out.values.append(_ANY.decode(line))
        except JSON_ERRORS as exc:
            if not out.values and not out.bad_lines:  # the first line: not JSON lines either
                cause = exc if isinstance(exc, RecursionError) else whole or exc
                raise not_json(path, cause) from exc
            out.bad_lines.append(number)
    return out


def csv_row_lines(data: bytes, rows: list[int]) -> list[int]:
    """The line each given data row (0-based, after the header) starts on, 1-based.

    A quoted cell may hold line breaks, so a row's line is not always its index plus two. Used
    only to name the lines of rows that were skipped, so it may be slow.
    """
    import csv

    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    starts: list[int] = []  # by record, the header being record 0
    previous = 0
    try:
        for _ in reader:
            starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:  # a cell past the csv module's size limit: number the rest plainly
        pass
    out = []
    for row in rows:
        record = row + 1
        if record < len(starts):
            out.append(starts[record])
        else:  # past what the csv module read: one line a record from there
            out.append(previous + 1 + record - len(starts))
    return out
