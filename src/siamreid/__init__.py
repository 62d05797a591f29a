"""siamreid: person re-identification by deep metric learning.

The public API, declared once. Everything users import comes from here::

    from siamreid import Market1501, SiameseEmbedder, Trainer, TrainerConfig, evaluate_rank
"""

from siamreid._version import __version__
from siamreid.data import (
    CUHK03NP,
    MSMT17,
    DataConfig,
    DatasetSource,
    DukeMTMCReID,
    ImageFolderReid,
    Market1501,
    MOTChallenge,
    PKSampler,
    ReidImageDataset,
    ReidSample,
    ReidSplits,
    TransformConfig,
    TripletDataset,
    combine_splits,
    load_splits,
    load_train_test,
    make_synthetic_market,
    make_synthetic_mot,
)
from siamreid.errors import (
    BackboneError,
    CheckpointError,
    ConfigError,
    DatasetLayoutError,
    ExportError,
    ImageLoadError,
    IndexFormatError,
    InputError,
    NonFiniteLossError,
    PretrainedWeightsError,
    RunFolderError,
    SiamreidError,
)
from siamreid.evaluation import (
    RankMetrics,
    evaluate_features,
    evaluate_rank,
    query_expansion,
    re_rank,
    re_rank_features,
)
from siamreid.evaluation.threshold import DistanceThreshold, calibrate_threshold
from siamreid.losses import CompositeLoss, LossTermConfig, build_loss
from siamreid.models import ModelConfig, SiameseEmbedder, create_backbone
from siamreid.retrieval import IndexOptions, Retriever, SearchResult
from siamreid.training import EpochRecord, History, Trainer, TrainerConfig
from siamreid.training.recipe import Recipe, load_recipe, save_recipe

__all__ = [
    "CUHK03NP",
    "MSMT17",
    "BackboneError",
    "CheckpointError",
    "CompositeLoss",
    "ConfigError",
    "DataConfig",
    "DatasetLayoutError",
    "DatasetSource",
    "DistanceThreshold",
    "DukeMTMCReID",
    "EpochRecord",
    "ExportError",
    "History",
    "ImageFolderReid",
    "ImageLoadError",
    "IndexFormatError",
    "IndexOptions",
    "InputError",
    "LossTermConfig",
    "MOTChallenge",
    "Market1501",
    "ModelConfig",
    "NonFiniteLossError",
    "PKSampler",
    "PretrainedWeightsError",
    "RankMetrics",
    "Recipe",
    "ReidImageDataset",
    "ReidSample",
    "ReidSplits",
    "Retriever",
    "RunFolderError",
    "SearchResult",
    "SiameseEmbedder",
    "SiamreidError",
    "Trainer",
    "TrainerConfig",
    "TransformConfig",
    "TripletDataset",
    "__version__",
    "build_loss",
    "calibrate_threshold",
    "combine_splits",
    "create_backbone",
    "evaluate_features",
    "evaluate_rank",
    "load_recipe",
    "load_splits",
    "load_train_test",
    "make_synthetic_market",
    "make_synthetic_mot",
    "query_expansion",
    "re_rank",
    "re_rank_features",
    "save_recipe",
]
