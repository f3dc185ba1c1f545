"""Which loader reads a file, decided from its content (file names are only a hint).

Polars-free on purpose: detection runs before the (forked) Claude Code reader starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tokenlens.errors import InputError, Notice

HEAD_BYTES: Final = 64 << 10
FIRST_LOOK: Final = 4 << 10
DATA_SUFFIXES: Final = (".jsonl", ".json", ".ndjson", ".csv")
BOM: Final = b"\xef\xbb\xbf"

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
    if {"date", "sku", "quantity"} <= cols:
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
    """The format id of a file from its first bytes, or None when it is not one we read."""
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
    with path.open("rb") as handle:
        return handle.read(size)


@dataclass
class Classified:
    """Files grouped by format, plus what was skipped."""

    by_format: dict[str, list[Path]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    explicit: set[Path] = field(default_factory=set)

    def files(self) -> list[Path]:
        return [p for group in self.by_format.values() for p in group]


def _walk(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.endswith(DATA_SUFFIXES) and not filename.endswith(".meta.json"):
                yield Path(dirpath) / filename


def _unknown_error(path: Path) -> InputError:
    known = "; ".join(FORMAT_NAMES.values())
    return InputError(
        f"{path}: not a usage export tokenlens knows",
        hint=f"Known formats: {known}. Use --source to force one.",
    )


def _format_of(file: Path, force: str | None) -> str | None:
    """Sniff the first few KiB; read further only when they did not decide."""

    def look(head: bytes) -> str | None:
        return force_format(force, head, file.name) if force else sniff(head, file.name)

    head = read_head(file, FIRST_LOOK)
    found = look(head)
    if found is None and len(head) == FIRST_LOOK:
        found = look(read_head(file))
    return found


def classify(paths: Sequence[Path], *, force: str | None = None) -> Classified:
    """Group the files under `paths` by format.

    A file named on the command line that cannot be read or recognized is an error; inside a
    folder, such files are skipped and counted in a warning.
    """
    out = Classified()
    unknown: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            candidates, explicit = list(_walk(path)), False
        elif path.exists():
            candidates, explicit = [path], True
        else:
            raise InputError(
                f"{path}: no such file or folder",
                hint="Check the path; give log folders or export files.",
            )
        for file in candidates:
            try:
                fmt = _format_of(file, force)
            except OSError as exc:
                if explicit:
                    raise InputError(
                        f"{file}: cannot read: {exc.strerror}", hint="Check its permissions."
                    ) from exc
                unreadable.append((file, exc.strerror or "unreadable"))
                continue
            if fmt is None:
                if explicit:
                    raise _unknown_error(file)
                unknown.append(file)
                continue
            out.by_format.setdefault(fmt, []).append(file)
            if explicit:
                out.explicit.add(file)
    if unknown:
        shown = ", ".join(str(p) for p in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        out.notices.append(
            Notice(f"skipped files that are not a known usage export ({shown})", len(unknown))
        )
    for file, reason in unreadable:
        out.notices.append(Notice(f"could not read file ({reason})", 1, str(file)))
    for fmt, files in out.by_format.items():
        out.by_format[fmt] = sorted(set(files))
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
