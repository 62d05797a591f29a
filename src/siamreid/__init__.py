"""siamreid: person re-identification by deep metric learning.

The public API, declared once. Everything users import comes from here::

    from siamreid import Market1501, SiameseEmbedder, Trainer, TrainerConfig, evaluate_rank
"""

from typing import TYPE_CHECKING

from siamreid._version import __version__
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
    VectorStoreError,
)

if TYPE_CHECKING:
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
    from siamreid.evaluation import (
        RankMetrics,
        evaluate_features,
        evaluate_rank,
        query_expansion,
        re_rank,
        re_rank_features,
    )
    from siamreid.evaluation.threshold import (
        DistanceThreshold,
        calibrate_threshold,
    )
    from siamreid.losses import (
        CompositeLoss,
        LossTermConfig,
        build_loss,
    )
    from siamreid.models import (
        ModelConfig,
        SiameseEmbedder,
        create_backbone,
    )
    from siamreid.retrieval import (
        IndexOptions,
        Retriever,
        SearchResult,
    )
    from siamreid.training import (
        EpochRecord,
        History,
        OptimConfig,
        OutputConfig,
        RuntimeConfig,
        SamplingConfig,
        ScheduleConfig,
        Trainer,
        TrainerConfig,
    )
    from siamreid.training.recipe import (
        Recipe,
        load_recipe,
        save_recipe,
    )

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
    "OptimConfig",
    "OutputConfig",
    "PKSampler",
    "PretrainedWeightsError",
    "RankMetrics",
    "Recipe",
    "ReidImageDataset",
    "ReidSample",
    "ReidSplits",
    "Retriever",
    "RunFolderError",
    "RuntimeConfig",
    "SamplingConfig",
    "ScheduleConfig",
    "SearchResult",
    "SiameseEmbedder",
    "SiamreidError",
    "Trainer",
    "TrainerConfig",
    "TransformConfig",
    "TripletDataset",
    "VectorStoreError",
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

# The rest of the API loads on first use, so that `import siamreid` (and `siamreid --help`)
# does not load torch: see siamreid/_lazy.py.
_LAZY: dict[str, tuple[str, ...]] = {
    "siamreid.data": (
        "CUHK03NP",
        "MSMT17",
        "DataConfig",
        "DatasetSource",
        "DukeMTMCReID",
        "ImageFolderReid",
        "Market1501",
        "MOTChallenge",
        "PKSampler",
        "ReidImageDataset",
        "ReidSample",
        "ReidSplits",
        "TransformConfig",
        "TripletDataset",
        "combine_splits",
        "load_splits",
        "load_train_test",
        "make_synthetic_market",
        "make_synthetic_mot",
    ),
    "siamreid.evaluation": (
        "RankMetrics",
        "evaluate_features",
        "evaluate_rank",
        "query_expansion",
        "re_rank",
        "re_rank_features",
    ),
    "siamreid.evaluation.threshold": (
        "DistanceThreshold",
        "calibrate_threshold",
    ),
    "siamreid.losses": (
        "CompositeLoss",
        "LossTermConfig",
        "build_loss",
    ),
    "siamreid.models": (
        "ModelConfig",
        "SiameseEmbedder",
        "create_backbone",
    ),
    "siamreid.retrieval": (
        "IndexOptions",
        "Retriever",
        "SearchResult",
    ),
    "siamreid.training": (
        "EpochRecord",
        "History",
        "OptimConfig",
        "OutputConfig",
        "RuntimeConfig",
        "SamplingConfig",
        "ScheduleConfig",
        "Trainer",
        "TrainerConfig",
    ),
    "siamreid.training.recipe": (
        "Recipe",
        "load_recipe",
        "save_recipe",
    ),
}

if not TYPE_CHECKING:
    from siamreid import _lazy

    __getattr__, __dir__ = _lazy.lazy_exports(__name__, _LAZY)
