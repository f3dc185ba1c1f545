"""The generated CLI reference and the JSON contract stay in step with the program."""

from __future__ import annotations

from tests.conftest import ROOT
from tokenlens.analysis.totals import METRICS
from tokenlens.cli import docgen


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == docgen.render(), "run `make docs`"


def test_json_contract_documents_every_metric() -> None:
    text = (ROOT / "docs" / "json.md").read_text()
    missing = [m for m in METRICS if f"`{m}`" not in text]
    assert missing == []
