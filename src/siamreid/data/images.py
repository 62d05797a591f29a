"""Turning what users hand us (paths, PIL images, arrays) into RGB PIL images, or a clear error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from siamreid.errors import ImageLoadError

__all__ = ["IMAGE_SUFFIXES", "image_paths", "load_image"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def load_image(item: str | os.PathLike[str] | Image.Image | np.ndarray[Any, Any]) -> Image.Image:
    """An RGB PIL image from a path, a PIL image or a uint8 ``HxWx3`` array, fully decoded.

    Raises:
        ImageLoadError: The file is missing, truncated or not an image; or the array is not
            ``HxWx3`` uint8.
    """
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    if isinstance(item, np.ndarray):
        if item.dtype != np.uint8 or item.ndim != 3 or item.shape[2] != 3:
            raise ImageLoadError(
                f"Image array has shape {item.shape} and dtype {item.dtype}; expected uint8 "
                "HxWx3 RGB (convert BGR frames from OpenCV with frame[..., ::-1])."
            )
        return Image.fromarray(item, mode="RGB")
    path = Path(item)
    try:
        with Image.open(path) as img:
            img.load()  # decode now so truncated files fail here, not in a worker later
            rgb: Image.Image = img.convert("RGB")
            return rgb
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        raise ImageLoadError(
            f"Cannot read image {str(path)!r}: {err}. Check the file exists and is a complete "
            "JPEG/PNG, or load the dataset with on_bad_image='skip'."
        ) from err


def image_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files below ``folder`` (jpg, jpeg, png, bmp, webp), sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
