"""One store of every fixture export, shared by the report and export properties."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FIXTURES
from tests.property.support import FixtureStore, ingest, pinned_env, write_config


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureStore]:
    """Every fixture export (all sources) ingested in one run."""
    root = tmp_path_factory.mktemp("fixture-store")
    with pinned_env(root):
        config = write_config(root / "config")
        ingest(root / "store", [FIXTURES], config)
        yield FixtureStore(root / "store", config)
