"""Session fixtures shared by every test package: a small synthetic Market-1501, generated once."""

from __future__ import annotations

from pathlib import Path

import pytest

import quick_training
from quick_training import QuickConfig
from siamreid.data.market1501 import Market1501
from siamreid.data.samples import ReidSplits
from siamreid.data.synthetic import make_synthetic_market

SYNTHETIC_TRAIN_IDS = 12
SYNTHETIC_TEST_IDS = 12


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic ``Market-1501-v15.09.15`` folder: 12 train and 12 test identities, seed 0."""
    return make_synthetic_market(
        tmp_path_factory.mktemp("synthetic_market"),
        num_train_ids=SYNTHETIC_TRAIN_IDS,
        num_test_ids=SYNTHETIC_TEST_IDS,
        seed=0,
    )


@pytest.fixture(scope="session")
def synthetic_splits(synthetic_root: Path) -> ReidSplits:
    """``Market1501(synthetic_root).load()``."""
    return Market1501(synthetic_root).load()


@pytest.fixture(scope="session")
def quick_config() -> QuickConfig:
    """``quick_config(out_dir=None, *, steps=1, resume=False, **fields)``: a fast CPU
    :class:`TrainerConfig` (see ``tests/quick_training.py``)."""
    return quick_training.quick_config
