"""`tokenlens sources`: local logs with their date range, and where each export comes from."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import assistant, run, tree
from tokenlens.loaders.detect import FORMAT_NAMES


def test_sources_lists_local_logs_and_every_export(tmp_path: Path) -> None:
    home = tree(
        tmp_path / "home",
        {
            ".claude/projects/p/a.jsonl": assistant("m1", "r1", ts="2025-09-01T10:00:00.000Z")
            + assistant("m2", "r2", ts="2025-09-04T10:00:00.000Z"),
        },
    )
    result = run("sources", "--json", env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    rows = {r["format"]: r for r in json.loads(result.stdout)["rows"]}
    assert set(rows) == set(FORMAT_NAMES)
    claude = rows["claude_code"]
    assert (claude["local"], claude["files"], claude["first"], claude["last"]) == (
        True,
        1,
        "2025-09-01",
        "2025-09-04",
    )
    assert rows["cursor_csv"]["local"] is False
    assert all(r["where"] for r in rows.values())
