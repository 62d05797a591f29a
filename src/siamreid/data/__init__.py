"""Datasets for re-id: adapters to :class:`ReidSplits`, the synthetic generator, torch datasets,
transforms and the PK sampler."""

from typing import TYPE_CHECKING

from siamreid.data.combine import combine_splits
from siamreid.data.config import DataConfig, DatasetSource
from siamreid.data.datasets.cuhk03np import CUHK03NP
from siamreid.data.datasets.dukemtmc import DukeMTMCReID
from siamreid.data.datasets.folder import ImageFolderReid
from siamreid.data.datasets.market1501 import (
    Market1501,
    format_market1501_name,
    parse_market1501_name,
)
from siamreid.data.datasets.mot import MOTChallenge, MOTOptions
from siamreid.data.datasets.msmt17 import MSMT17
from siamreid.data.datasets.published import PublishedCounts, SplitCounts, compare_counts
from siamreid.data.images import load_image
from siamreid.data.loading import TrainTestSplits, load_splits, load_train_test
from siamreid.data.registry import DATASETS
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.data.synthetic.market import make_synthetic_market
from siamreid.data.synthetic.mot import make_synthetic_mot

if TYPE_CHECKING:
    from siamreid.data.samplers import PKSampler
    from siamreid.data.torch_data import (
        BadImagePolicy,
        ReidImageDataset,
        TripletDataset,
        apply_bad_image_policy,
    )
    from siamreid.data.transforms import (
        TransformConfig,
        build_eval_transform,
        build_train_transform,
    )

__all__ = [
    "CUHK03NP",
    "DATASETS",
    "MSMT17",
    "BadImagePolicy",
    "DataConfig",
    "DatasetSource",
    "DukeMTMCReID",
    "ImageFolderReid",
    "MOTChallenge",
    "MOTOptions",
    "Market1501",
    "PKSampler",
    "PublishedCounts",
    "ReidImageDataset",
    "ReidSample",
    "ReidSplits",
    "SplitCounts",
    "TrainTestSplits",
    "TransformConfig",
    "TripletDataset",
    "apply_bad_image_policy",
    "build_eval_transform",
    "build_train_transform",
    "combine_splits",
    "compare_counts",
    "format_market1501_name",
    "load_image",
    "load_splits",
    "load_train_test",
    "make_synthetic_market",
    "make_synthetic_mot",
    "parse_market1501_name",
]

# The torch-based modules load on first use (siamreid/_lazy.py): naming and reading datasets,
# as `siamreid data check` and the recipe checks do, needs no torch.
_LAZY: dict[str, tuple[str, ...]] = {
    "siamreid.data.torch_data": (
        "BadImagePolicy",
        "ReidImageDataset",
        "TripletDataset",
        "apply_bad_image_policy",
    ),
    "siamreid.data.samplers": ("PKSampler",),
    "siamreid.data.transforms": (
        "TransformConfig",
        "build_eval_transform",
        "build_train_transform",
    ),
}

if not TYPE_CHECKING:
    from siamreid import _lazy

    __getattr__, __dir__ = _lazy.lazy_exports(__name__, _LAZY)
