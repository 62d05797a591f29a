"""Fixtures shared by every test package: synthetic data, a tiny model, example-script loading.

- ``synthetic_root`` / ``synthetic_splits``: a small synthetic Market-1501, generated once.
- ``tiny_model_factory`` / ``tiny_model``: seeded ``pretrained=False`` models small enough for CPU.
- ``quick_config``: a one-step CPU ``TrainerConfig`` (``tests/quick_training.py``).
- ``script_module`` / ``example_module``: import a script of the repository (``examples/``,
  ``benchmarks/``, ``docs/_hooks``) as a module, the way its tests call its functions.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import quick_training
from quick_training import QuickConfig
from siamreid.data.datasets.market1501 import Market1501
from siamreid.data.samples import ReidSplits
from siamreid.data.synthetic.market import make_synthetic_market
from siamreid.models import SiameseEmbedder

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_TRAIN_IDS = 12
SYNTHETIC_TEST_IDS = 12
TINY_INPUT_SIZE = (64, 32)
TINY_DIM = 16

TinyModelFactory = Callable[..., SiameseEmbedder]


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


def _tiny_model(
    backbone: str = "test_efficientnet",
    embedding_dim: int = TINY_DIM,
    *,
    seed: int = 0,
    input_size: tuple[int, int] = TINY_INPUT_SIZE,
    calibrated: bool = False,
    **kwargs: Any,
) -> SiameseEmbedder:
    torch.manual_seed(seed)
    model = SiameseEmbedder(
        backbone, embedding_dim, pretrained=False, input_size=input_size, **kwargs
    )
    if calibrated:  # one train-mode batch: non-trivial BatchNorm running statistics
        with torch.no_grad():
            model.train()(torch.randn(8, 3, *input_size))
        model.eval()
    return model


@pytest.fixture(scope="session")
def tiny_model_factory() -> TinyModelFactory:
    """Build a fresh seeded model: ``tiny_model_factory(backbone, dim, seed=, calibrated=, ...)``.

    Defaults: ``test_efficientnet``, 16-d embeddings, ``(64, 32)`` input, seed 0, random
    weights. ``calibrated=True`` runs one random train-mode batch first, so BatchNorm running
    statistics are not the identity, and returns the model in eval mode. Other keyword
    arguments go to :class:`~siamreid.SiameseEmbedder`. Each call returns a new model the test
    may change.
    """
    return _tiny_model


@pytest.fixture(scope="session")
def tiny_model(tiny_model_factory: TinyModelFactory) -> SiameseEmbedder:
    """One shared ``test_efficientnet`` model (16-d, ``(64, 32)``, seed 0) in eval mode.

    Shared by the whole session: tests must not train or otherwise change it (build their own
    with ``tiny_model_factory`` instead).
    """
    return tiny_model_factory().eval()


ScriptLoader = Callable[[str], ModuleType]


@pytest.fixture(scope="session")
def script_module() -> Iterator[ScriptLoader]:
    """Import a repository script by its path from the root: ``script_module("benchmarks/x.py")``.

    The module is registered in ``sys.modules`` while the session runs (dataclasses defined in
    a script look their module up there) and each script is executed once.
    """
    loaded: dict[str, ModuleType] = {}

    def load(relative_path: str) -> ModuleType:
        if relative_path not in loaded:
            path = REPO / relative_path
            name = "_script_" + path.with_suffix("").name
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None, path
            assert spec.loader is not None, path
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            loaded[relative_path] = module
        return loaded[relative_path]

    yield load
    for module in loaded.values():
        sys.modules.pop(module.__name__, None)


@pytest.fixture(scope="session")
def example_module(script_module: ScriptLoader) -> ScriptLoader:
    """Import ``examples/<name>.py``: ``example_module("quickstart").main(["--smoke", ...])``."""
    return lambda name: script_module(f"examples/{name}.py")
