"""Datasets for re-id: adapters to :class:`ReidSplits`, the synthetic generator, torch datasets,
transforms and the PK sampler."""

from siamreid.data.config import DataConfig, load_splits
from siamreid.data.datasets import BadImagePolicy, ReidImageDataset, TripletDataset
from siamreid.data.folder import ImageFolderReid
from siamreid.data.images import load_image
from siamreid.data.market1501 import Market1501, format_market1501_name, parse_market1501_name
from siamreid.data.samplers import PKSampler
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.data.synthetic import make_synthetic_market
from siamreid.data.transforms import TransformConfig, build_eval_transform, build_train_transform

__all__ = [
    "BadImagePolicy",
    "DataConfig",
    "ImageFolderReid",
    "Market1501",
    "PKSampler",
    "ReidImageDataset",
    "ReidSample",
    "ReidSplits",
    "TransformConfig",
    "TripletDataset",
    "build_eval_transform",
    "build_train_transform",
    "format_market1501_name",
    "load_image",
    "load_splits",
    "make_synthetic_market",
    "parse_market1501_name",
]
