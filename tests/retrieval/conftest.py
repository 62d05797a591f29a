"""Fixtures of the retrieval tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundles import filled


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A bundle of 50 entries (6-d, ids, cameras, paths) saved into ``tmp_path / "ix"``."""
    return filled().save(tmp_path / "ix")
