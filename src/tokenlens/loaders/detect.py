"""Which loader reads a file, decided from its content (file names are only a hint).

Polars-free on purpose: detection runs before the (forked) Claude Code reader starts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tokenlens.errors import InputError, Notice
from tokenlens.loaders import files as rawfiles
from tokenlens.loaders.checks import Tally

HEAD_BYTES: Final = 64 << 10
FIRST_LOOK: Final = 4 << 10
PLAIN_SUFFIXES: Final = (".jsonl", ".json", ".ndjson", ".csv")
# What a folder walk picks up: the data files, their gzip-compressed copies, and zip archives
# (which are not read, but said to be skipped).
DATA_SUFFIXES: Final = (
    *PLAIN_SUFFIXES,
    *(s + rawfiles.COMPRESSED for s in PLAIN_SUFFIXES),
    *rawfiles.ARCHIVES,
)
BOM: Final = rawfiles.UTF8_BOM

# Human names of the formats, for messages and `tokenlens sources`.
FORMAT_NAMES: Final[dict[str, str]] = {
    "claude_code": "Claude Code transcript (JSONL)",
    "cursor_csv": "Cursor usage CSV (dashboard export)",
    "cursor_api_events": "Cursor Admin API filtered-usage-events (JSON)",
    "cursor_daily": "Cursor Admin API daily-usage-data (JSON)",
    "copilot_premium_csv": "GitHub Copilot premium-request analytics CSV (legacy)",
    "copilot_usage_csv": "GitHub Copilot premium-request / AI usage report (CSV)",
    "copilot_metrics_users": "GitHub Copilot usage-metrics user report (NDJSON/JSON)",
    "copilot_metrics_legacy": "GitHub Copilot /copilot/metrics (JSON, legacy)",
    "anthropic_claude_code": "Anthropic Claude Code analytics report (JSON)",
    "anthropic_messages": "Anthropic messages usage report (JSON)",
    "anthropic_cost": "Anthropic cost report (JSON)",
    "codex": "OpenAI Codex CLI rollout (JSONL)",
    "gemini": "Gemini CLI chat log (JSON/JSONL)",
}

# One line per format on where a user gets it.
FORMAT_WHERE: Final[dict[str, str]] = {
    "claude_code": "written by Claude Code to ~/.claude/projects (or CLAUDE_CONFIG_DIR); "
    "deleted after 30 days, so ingest them",
    "cursor_csv": "cursor.com/dashboard → Usage → Export CSV (a team admin's export has a "
    "User column)",
    "cursor_api_events": "Cursor Admin API: POST api.cursor.com/teams/filtered-usage-events, save "
    "each page's JSON",
    "cursor_daily": "Cursor Admin API: POST api.cursor.com/teams/daily-usage-data, save the JSON",
    "copilot_premium_csv": "GitHub → Settings → Billing → premium request analytics → Download "
    "(legacy report, until 2025-12)",
    "copilot_usage_csv": "GitHub → Billing and licensing → Usage → Get usage report (premium "
    "request or AI usage report, emailed CSV)",
    "copilot_metrics_users": "GitHub REST: /orgs/ORG/copilot/metrics/reports/users-1-day, "
    "download the NDJSON from download_links",
    "copilot_metrics_legacy": "GitHub REST: GET /orgs/ORG/copilot/metrics, save the JSON",
    "anthropic_claude_code": "Anthropic Admin API: GET /v1/organizations/usage_report/claude_code "
    "(or Console → Claude Code analytics), save the JSON",
    "anthropic_messages": "Anthropic Admin API: GET /v1/organizations/usage_report/messages, save "
    "the JSON",
    "anthropic_cost": "Anthropic Admin API: GET /v1/organizations/cost_report, save the JSON",
    "codex": "written by Codex CLI to ~/.codex/sessions and archived_sessions (or CODEX_HOME)",
    "gemini": "written by Gemini CLI to ~/.gemini/tmp/*/chats (or GEMINI_DATA_DIR)",
}


def _has(head: bytes, *needles: bytes) -> bool:
    return all(n in head for n in needles)


def _csv_header(head: bytes) -> list[str]:
    line = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    return [cell.strip().strip('"').strip().lower() for cell in line.split(",")]


def _sniff_csv(head: bytes) -> str | None:
    cols = set(_csv_header(head))
    if {"timestamp", "user", "model", "requests used"} <= cols:
        return "copilot_premium_csv"
    if {"date", "sku"} <= cols:  # the usage reports (quantity is checked by the loader)
        return "copilot_usage_csv"
    cursor_values = {"kind", "tokens", "total tokens", "cost", "cost ($)", "requests"}
    if "model" in cols and ("date" in cols or "request count" in cols) and cols & cursor_values:
        return "cursor_csv"
    return None


def _sniff_json(head: bytes) -> str | None:
    """JSON documents and JSON-lines files, by the keys they carry."""
    if _has(head, b'"parentUuid"') or _has(head, b'"leafUuid"'):
        return "claude_code"
    if _has(head, b'"sessionId"', b'"isSidechain"'):
        return "claude_code"
    if _has(head, b'"payload"') and any(
        k in head for k in (b'"session_meta"', b'"turn_context"', b'"event_msg"')
    ):
        return "codex"
    if _has(head, b'"projectHash"') or (_has(head, b'"$set"')) or _has(head, b'"type":"gemini"'):
        return "gemini"
    if _has(head, b'"sessionId"', b'"message"') or _has(head, b'"requestId"', b'"usage"'):
        return "claude_code"
    if _has(head, b'"usageEvents"'):
        return "cursor_api_events"
    if _has(head, b'"totalLinesAdded"') or _has(head, b'"acceptedLinesAdded"'):
        return "cursor_daily"
    if _has(head, b'"core_metrics"') or _has(head, b'"model_breakdown"'):
        return "anthropic_claude_code"
    if _has(head, b'"cost_type"') or (_has(head, b'"amount"', b'"token_type"')):
        return "anthropic_cost"
    if _has(head, b'"uncached_input_tokens"'):
        return "anthropic_messages"
    if _has(head, b'"copilot_ide_code_completions"') or _has(head, b'"total_active_users"'):
        return "copilot_metrics_legacy"
    if _has(head, b'"user_login"') or _has(head, b'"day_totals"'):
        return "copilot_metrics_users"
    return None


def sniff(head: bytes, name: str = "") -> str | None:
    """The format id of a file from its first bytes, or None when it is not one we read.

    `head` is the file's text as `files.read_head` gives it; `name` its plain name (no `.gz`).
    """
    body = head[len(BOM) :] if head.startswith(BOM) else head
    body = body.lstrip()
    if not body:
        return None
    if body[:1] in (b"{", b"["):
        found = _sniff_json(body)
        if found:
            return found
        return None
    if name.lower().endswith((".json", ".jsonl", ".ndjson")):
        return None
    return _sniff_csv(body)


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first bytes of a file's text: gunzipped, UTF-16 as UTF-8, no byte-order mark."""
    return rawfiles.read_head(path, size)


@dataclass
class Classified:
    """Files grouped by format, plus what was skipped.

    `explicit` holds the files named on the command line, `roots` the folders.
    """

    by_format: dict[str, list[Path]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    explicit: set[Path] = field(default_factory=set)
    roots: list[Path] = field(default_factory=list)

    def files(self) -> list[Path]:
        return [p for group in self.by_format.values() for p in group]


def _walk(root: Path, tally: Tally) -> Iterable[Path]:
    """The data files under a folder, in order; hidden folders and symlinked folders are not
    entered (no loops), and a folder that cannot be listed is told to `tally`."""

    def unlisted(exc: OSError) -> None:
        if Path(exc.filename or "") == root:
            raise _cannot_read(root, exc)
        tally.add(f"could not read folder ({rawfiles.reason(exc)})", str(exc.filename))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.lower().endswith(DATA_SUFFIXES) and not filename.endswith(".meta.json"):
                yield Path(os.path.join(dirpath, filename))


def _parts(path: Path) -> tuple[str, ...]:
    return path.parts


def _cannot_read(path: Path, exc: BaseException) -> InputError:
    return rawfiles.cannot_read(path, exc)


def _unknown_error(path: Path, head: bytes = b"") -> InputError:
    first = head.split(b"\n", 1)[0]
    known = "; ".join(FORMAT_NAMES.values())
    if _binary(head):
        return InputError(
            f"{path}: a binary file, not a usage export tokenlens knows",
            hint=f"Known formats: {known}. Give the export as it was downloaded.",
        )
    if b"\t" in first and b"," not in first:
        return InputError(
            f"{path}: a tab-separated file, not a usage export tokenlens knows",
            hint="Save it as CSV (comma-separated), or download the export again.",
        )
    return InputError(
        f"{path}: not a usage export tokenlens knows",
        hint=f"Known formats: {known}. Use --source to force one.",
    )


def _binary(head: bytes) -> bool:
    """True for bytes that are not text: a NUL byte, or more than 1 in 20 undecodable as
    UTF-8 (UTF-16 text, which holds NUL bytes, is decoded before it gets here)."""
    if b"\x00" in head:
        return True
    replaced = head.decode("utf-8", errors="replace").count("\ufffd")
    return replaced * 20 > max(len(head), 1)


def _empty_error(path: Path) -> InputError:
    return InputError(
        f"{path}: empty file", hint="There is nothing to read; export or download it again."
    )


def _format_of(file: Path, force: str | None) -> str:
    """Sniff the first few KiB; read further only when they did not decide.

    Raises an InputError for a file that is empty, an archive or not a regular file, and
    `files.READ_ERRORS` when it cannot be read.
    """
    name = rawfiles.plain_name(file)

    def look(head: bytes) -> str | None:
        return force_format(force, head, name) if force else sniff(head, name)

    head = _first_bytes(file)
    if rawfiles.is_archive(head):
        raise rawfiles.archive_error(file)
    if head.startswith((rawfiles.GZIP_MAGIC, *rawfiles.UTF16_BOMS)):
        head = read_head(file, FIRST_LOOK)
    else:
        head = head.removeprefix(BOM)[:FIRST_LOOK]
    if not head.strip():
        raise _empty_error(file)
    found = look(head)
    if found is None and len(head) == FIRST_LOOK:
        head = read_head(file)
        found = look(head)
    if found is None:
        raise _unknown_error(file, head)
    return found


def _first_bytes(file: Path) -> bytes:
    """The file's first bytes as stored, from one open (never blocking on a pipe); an InputError
    for what is not a regular file or is empty."""
    fd = os.open(file, os.O_RDONLY | _NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"{file}: not a regular file", hint="Give log folders or export files."
            )
        if info.st_size == 0:
            raise _empty_error(file)
        return os.read(fd, FIRST_LOOK + len(BOM))
    finally:
        os.close(fd)


_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)


def _named(path: Path) -> bool:
    """True for a folder, False for a file; an InputError when the path cannot be used."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):  # a link to nowhere
            raise InputError(
                f"{path}: a symbolic link to a missing file", hint="Check the link's target."
            ) from None
        raise InputError(
            f"{path}: no such file or folder",
            hint="Check the path; give log folders or export files.",
        ) from None
    except OSError as exc:  # a link loop, a folder above it that cannot be searched
        raise _cannot_read(path, exc) from exc
    return stat.S_ISDIR(info.st_mode)


# The notices of files skipped inside a folder, by what was wrong.
_SKIPPED: Final = {
    "empty file": "skipped empty files",
    "not a usage export tokenlens knows": "skipped files that are not a known usage export",
    "a binary file, not a usage export tokenlens knows": "skipped binary files "
    "(not a known usage export)",
    "a tab-separated file, not a usage export tokenlens knows": "skipped tab-separated files "
    "(not a known usage export)",
    "a zip archive; tokenlens reads the files inside it, not the archive": "skipped zip "
    "archives (unzip them to read the files inside)",
}


def skipped_reason(path: Path, exc: InputError) -> str:
    """What to say of a file inside a folder that would be refused on its own."""
    reason = exc.message.removeprefix(f"{path}: ")
    return _SKIPPED.get(reason, f"skipped a file: {reason}")


def classify(paths: Sequence[Path], *, force: str | None = None) -> Classified:
    """Group the files under `paths` by format.

    A file named on the command line that cannot be read or recognized is an error; inside a
    folder, such files are skipped and counted in a warning naming each.
    """
    out = Classified()
    tally = Tally()
    for path in paths:
        folder = _named(path)
        if folder:
            out.roots.append(path)
        candidates = _walk(path, tally) if folder else [path]
        for file in candidates:
            try:
                fmt = _format_of(file, force)
            except rawfiles.READ_ERRORS as exc:
                if not folder:
                    raise _cannot_read(file, exc) from exc
                tally.add(f"could not read file ({rawfiles.reason(exc)})", str(file))
                continue
            except InputError as exc:
                if not folder:
                    raise
                tally.add(skipped_reason(file, exc), str(file))
                continue
            out.by_format.setdefault(fmt, []).append(file)
            if not folder:
                out.explicit.add(file)
    out.notices.extend(tally.notices())
    for fmt, files in out.by_format.items():
        out.by_format[fmt] = sorted(set(files), key=_parts)  # Path order, computed faster
    return out


# --source NAME: which format ids belong to a source name
SOURCE_FORMATS: Final[dict[str, tuple[str, ...]]] = {
    "claude_code": ("claude_code",),
    "cursor": ("cursor_csv", "cursor_api_events", "cursor_daily"),
    "copilot": (
        "copilot_premium_csv",
        "copilot_usage_csv",
        "copilot_metrics_users",
        "copilot_metrics_legacy",
    ),
    "anthropic": ("anthropic_claude_code", "anthropic_messages", "anthropic_cost"),
    "codex": ("codex",),
    "gemini": ("gemini",),
}


def force_format(source: str, head: bytes, name: str) -> str | None:
    """With --source, the file is read by that source's loader (the variant still sniffed)."""
    formats = SOURCE_FORMATS.get(source)
    if formats is None:
        raise InputError(
            f"unknown source {source!r}",
            hint="Sources: " + ", ".join(SOURCE_FORMATS),
        )
    found = sniff(head, name)
    return found if found in formats else formats[0]


def local_roots() -> dict[str, list[Path]]:
    """Local log folders on this machine, per format (Claude Code, Codex, Gemini)."""
    from tokenlens.loaders import claude_lines

    home = Path.home()
    out: dict[str, list[Path]] = {"claude_code": claude_lines.default_roots()}
    codex_home = Path(os.environ.get("CODEX_HOME", "") or home / ".codex").expanduser()
    out["codex"] = [
        p for p in (codex_home / "sessions", codex_home / "archived_sessions") if p.is_dir()
    ]
    gemini = Path(os.environ.get("GEMINI_DATA_DIR", "") or home / ".gemini" / "tmp").expanduser()
    out["gemini"] = [gemini] if gemini.is_dir() else []
    return {k: v for k, v in out.items() if v}
