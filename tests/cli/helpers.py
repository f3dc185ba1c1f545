"""Writing tiny Claude Code transcripts and running the CLI the way a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def assistant(
    msg: str,
    req: str,
    *,
    ts: str,
    model: str = "claude-sonnet-4-20250514",
    inp: int = 100,
    out: int = 10,
    write: int = 0,
    read: int = 0,
    session: str = "s1",
    cwd: str = "/home/u/webapp",
) -> str:
    line: dict[str, Any] = {
        "type": "assistant",
        "timestamp": ts,
        "sessionId": session,
        "requestId": req,
        "isSidechain": False,
        "cwd": cwd,
        "version": "1.0.98",
        "message": {
            "id": msg,
            "model": model,
            "content": [{"type": "text", "text": "PLANTED-CONTENT-MARKER"}],
            "usage": {
                "input_tokens": inp,
                "output_tokens": out,
                "cache_creation_input_tokens": write,
                "cache_read_input_tokens": read,
            },
        },
    }
    return json.dumps(line, separators=(",", ":")) + "\n"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m tokenlens` in a subprocess, as a user would (real exit codes and streams)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tokenlens", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
        timeout=120,
    )


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
