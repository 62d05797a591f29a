"""siamreid: person re-identification by deep metric learning.

The public API, declared once. Everything users import comes from here::

    from siamreid import Market1501, SiameseEmbedder, Trainer, TrainerConfig, evaluate_rank
"""

from siamreid._version import __version__
from siamreid.data.config import DataConfig, load_splits
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import (
    BackboneError,
    CheckpointError,
    ConfigError,
    DatasetLayoutError,
    ExportError,
    ImageLoadError,
    IndexFormatError,
    NonFiniteLossError,
    PretrainedWeightsError,
    SiamreidError,
)
from siamreid.losses import CompositeLoss, LossTermConfig, build_loss
from siamreid.models import ModelConfig, SiameseEmbedder, create_backbone
from siamreid.training import EpochRecord, History, Trainer, TrainerConfig
from siamreid.training.recipe import Recipe, load_recipe, save_recipe

__all__ = [
    "BackboneError",
    "CheckpointError",
    "CompositeLoss",
    "ConfigError",
    "DataConfig",
    "DatasetLayoutError",
    "EpochRecord",
    "ExportError",
    "History",
    "ImageLoadError",
    "IndexFormatError",
    "LossTermConfig",
    "ModelConfig",
    "NonFiniteLossError",
    "PretrainedWeightsError",
    "Recipe",
    "ReidSample",
    "ReidSplits",
    "SiameseEmbedder",
    "SiamreidError",
    "Trainer",
    "TrainerConfig",
    "__version__",
    "build_loss",
    "create_backbone",
    "load_recipe",
    "load_splits",
    "save_recipe",
]
