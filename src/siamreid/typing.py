"""Type aliases shared across siamreid, each declared once with one meaning."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

__all__ = ["METRICS", "ArrayLike", "ImageInput", "ImageLike", "Labels", "Metric"]

Metric = Literal["euclidean", "cosine"]
"""How embeddings are compared: Euclidean distance, or cosine (Euclidean between unit vectors)."""

METRICS: tuple[str, ...] = get_args(Metric)

ImageLike: TypeAlias = "str | os.PathLike[str] | Image.Image | np.ndarray[Any, Any]"
"""One image: a file path, a PIL image, or a uint8 ``HxWx3`` RGB array."""

ImageInput: TypeAlias = "torch.Tensor | ImageLike | Sequence[ImageLike]"
"""Images to embed: one or a sequence of :data:`ImageLike`, or a preprocessed ``[N, 3, H, W]``
batch."""

ArrayLike: TypeAlias = "npt.NDArray[Any] | torch.Tensor"
"""Numbers in an array: a NumPy array or a torch tensor (features, distances)."""

Labels: TypeAlias = "torch.Tensor | np.ndarray[Any, Any] | Sequence[int]"
"""Integer labels (ids, camera ids): a tensor, an array or a sequence of ints."""
