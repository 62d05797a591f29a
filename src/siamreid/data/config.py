"""Which dataset a recipe trains and evaluates on, and how to load it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError

__all__ = ["DataConfig", "load_splits"]


@dataclass(frozen=True)
class DataConfig:
    """The dataset of a recipe.

    Attributes:
        dataset: ``"market1501"`` (the real layout under ``root``), ``"synthetic"`` (generated
            into ``root`` if absent) or ``"folder"`` (``root/<identity>/<image>``).
        root: Dataset folder.
        synthetic_train_ids: Training identities of the synthetic dataset.
        synthetic_test_ids: Held-out identities of the synthetic dataset.
        camera_pattern: Regular expression with one group for the camera in ``folder`` filenames.
        seed: Seed of the synthetic generator and of the ``folder`` identity split.
    """

    dataset: Literal["market1501", "synthetic", "folder"] = "market1501"
    root: str = "data"
    synthetic_train_ids: int = 100
    synthetic_test_ids: int = 100
    camera_pattern: str = r"c(\d+)"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in ("market1501", "synthetic", "folder"):
            raise ConfigError(
                f"DataConfig.dataset is {self.dataset!r}; expected 'market1501', 'synthetic' "
                "or 'folder'."
            )
        if min(self.synthetic_train_ids, self.synthetic_test_ids) < 2:
            raise ConfigError("DataConfig.synthetic_train_ids/_test_ids must each be >= 2.")


def load_splits(config: DataConfig) -> ReidSplits:
    """Load (or, for ``synthetic``, generate once and load) the dataset a config names."""
    from siamreid.data.folder import ImageFolderReid
    from siamreid.data.market1501 import Market1501
    from siamreid.data.synthetic import make_synthetic_market

    if config.dataset == "folder":
        return ImageFolderReid(
            config.root, camera_pattern=config.camera_pattern, seed=config.seed
        ).load()
    if config.dataset == "synthetic":
        root = Path(config.root)
        if not (root / "Market-1501-v15.09.15").is_dir():
            make_synthetic_market(
                root,
                num_train_ids=config.synthetic_train_ids,
                num_test_ids=config.synthetic_test_ids,
                seed=config.seed,
            )
    return Market1501(config.root).load()
