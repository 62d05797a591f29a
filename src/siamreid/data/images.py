"""Turning what users hand us (paths, PIL images, arrays) into RGB PIL images, or a clear error."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from siamreid.errors import DatasetLayoutError, ImageLoadError

__all__ = [
    "IMAGE_SUFFIXES",
    "find_images",
    "image_paths",
    "load_image",
    "to_rgb",
    "unique_images",
    "walk_images",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_ORIENTATION = 0x0112  # the EXIF tag


def load_image(item: str | os.PathLike[str] | Image.Image | np.ndarray[Any, Any]) -> Image.Image:
    """An 8-bit RGB PIL image from a path, a PIL image or a uint8 ``HxWx3`` array, fully decoded.

    Every mode Pillow opens becomes 8-bit RGB (see :func:`to_rgb` for the rules: 16-bit and
    float greyscale are scaled, not clipped; alpha is dropped). A file's EXIF orientation is
    applied (a phone photo stored sideways with an orientation tag comes out upright, as
    viewers show it); PIL images and arrays are taken as they are.

    Raises:
        ImageLoadError: The file is missing, truncated, too large or not an image; its mode has
            no RGB conversion; or the array is not ``HxWx3`` uint8.
    """
    if isinstance(item, Image.Image):
        return to_rgb(item, "image")
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
            return to_rgb(_upright(img, path), f"image {str(path)!r}")
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageLoadError(
            f"Cannot read image {str(path)!r}: {err}. Check the file exists and is a complete "
            "JPEG/PNG, or load the dataset with on_bad_image='skip'."
        ) from err


def _upright(image: Image.Image, path: Path) -> Image.Image:
    """``image`` turned as its EXIF orientation tag says (unchanged without one)."""
    try:
        if image.getexif().get(_ORIENTATION, 1) == 1:
            return image
        return ImageOps.exif_transpose(image)
    except Exception as err:  # a corrupt EXIF block: the pixels are still good
        logger.warning("Ignoring the unreadable EXIF orientation of %s: %s", path, err)
        return image


def to_rgb(image: Image.Image, what: str = "image") -> Image.Image:
    """``image`` as a new 8-bit RGB image, whatever its Pillow mode.

    Rules (Pillow's own ``convert("RGB")`` clips 16-bit and float greyscale, turning a
    16-bit photo nearly all white; these modes are scaled here instead):

    - ``I;16``, ``I;16B``, ``I;16L``, ``I;16N`` (16-bit greyscale, e.g. 16-bit PNG/TIFF):
      ``round(value / 257)``, so 0 -> 0, 32768 -> 128, 65535 -> 255.
    - ``I`` (32-bit integer greyscale): the same when every value lies in ``[0, 65535]``;
      otherwise scaled linearly from the image's own ``[min, max]`` to ``[0, 255]``.
    - ``F`` (32-bit float greyscale): ``x 255`` when every value lies in ``[0, 1]``; kept
      (rounded) when in ``[0, 255]``; otherwise scaled from the image's ``[min, max]``. NaN
      reads as 0.
    - Modes with alpha (``LA``, ``La``, ``PA``, ``RGBA``, ``RGBa``, ``P`` with transparency):
      the alpha channel is dropped, keeping the colour of every pixel (premultiplied modes
      are un-premultiplied first), the same pixels torchreid and timm's loaders feed a model.
    - Everything else Pillow converts (``1``, ``L``, ``P``, ``CMYK``, ``YCbCr``, ``LAB``,
      ``HSV``, ``RGBX``...) goes through ``convert("RGB")``.

    Args:
        image: Any PIL image.
        what: How errors name the image (e.g. its path).

    Raises:
        ImageLoadError: Pillow cannot convert this mode to RGB.
    """
    grey = _wide_grey(image)
    if grey is None:
        return _convert_rgb(image, what)
    channel = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.repeat(channel[..., None], 3, axis=2)))


def _wide_grey(image: Image.Image) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    """Grey levels on a 0..255 scale of a 16-bit, 32-bit or float image; ``None`` otherwise."""
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.float64) / 257.0
    if mode == "I":
        values = np.asarray(image).astype(np.float64)
        in_16_bits = values.size == 0 or (values.min() >= 0 and values.max() <= 65535)
        return values / 257.0 if in_16_bits else _stretch(values)
    if mode == "F":
        values = np.nan_to_num(np.asarray(image).astype(np.float64), nan=0.0)
        low, high = (values.min(), values.max()) if values.size else (0.0, 0.0)
        if low >= 0 and high <= 1:
            return values * 255.0
        if low >= 0 and high <= 255:
            return values
        return _stretch(values)
    return None


def _convert_rgb(image: Image.Image, what: str) -> Image.Image:
    """Pillow's own conversion (alpha dropped, ``La`` un-premultiplied first)."""
    try:
        source = image.convert("LA") if image.mode == "La" else image
        rgb: Image.Image = source.convert("RGB")
    except (ValueError, OSError) as err:
        raise ImageLoadError(
            f"Cannot convert {what} from Pillow mode {image.mode!r} to RGB: {err}. Save it as "
            "an 8-bit RGB or greyscale JPEG/PNG."
        ) from err
    return rgb


def _stretch(values: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
    """``values`` scaled linearly from their ``[min, max]`` to ``[0, 255]`` (constant: 0)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return np.zeros_like(values)
    low, high = float(finite.min()), float(finite.max())
    if high == low:
        return np.zeros_like(values)
    clipped = np.clip(np.nan_to_num(values, nan=low, posinf=high, neginf=low), low, high)
    scaled: np.ndarray[Any, Any] = (clipped - low) * (255.0 / (high - low))
    return scaled


def image_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files below ``folder`` (jpg, jpeg, png, bmp, webp), sorted, each image once.

    Symbolic links to folders below ``folder`` are not followed (a link to the root or to a
    sibling would list its images twice); a file that is a link to (or a hard link of) an
    image already listed is left out. Both are logged as one warning.
    """
    files, links = walk_images(folder)
    (kept,), duplicates = unique_images([files])
    if links or duplicates:
        logger.warning(
            "%s: %d linked folder(s) not followed and %d duplicate image file(s) left out.",
            folder,
            links,
            duplicates,
        )
    return kept


def find_images(source: str | os.PathLike[str], what: str = "image source") -> list[Path]:
    """One image file, or the images below a folder (:func:`image_paths`).

    Args:
        source: An image file or a folder.
        what: How the caller names ``source`` in errors (``"QUERY"`` on the command line).

    Raises:
        DatasetLayoutError: ``source`` does not exist, is a file but not an image, or is a
            folder that holds no images.
    """
    path = Path(source)
    suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DatasetLayoutError(f"{what} {str(path)!r} is not an image ({suffixes}).")
        return [path]
    if not path.is_dir():
        raise DatasetLayoutError(f"{what} {str(path)!r} does not exist; check the path.")
    found = image_paths(path)
    if not found:
        raise DatasetLayoutError(f"{what} {str(path)!r} holds no images ({suffixes}).")
    return found


def walk_images(folder: str | os.PathLike[str]) -> tuple[list[Path], int]:
    """Image files below ``folder``, sorted, without following linked folders.

    Returns:
        The image files, and how many symbolic links to folders were not followed.
    """
    found: list[Path] = []
    links = 0
    for dirpath, dirnames, filenames in os.walk(folder):  # followlinks=False
        links += sum(os.path.islink(os.path.join(dirpath, d)) for d in dirnames)
        found.extend(
            Path(dirpath, name) for name in filenames if Path(name).suffix.lower() in IMAGE_SUFFIXES
        )
    return sorted(found), links


def unique_images(groups: Sequence[Sequence[Path]]) -> tuple[list[list[Path]], int]:
    """Every image file once across ``groups`` (say, identity folders).

    Two paths are one file when they share device and inode (symbolic and hard links). Paths
    that are not symbolic links are kept first, in group order, then links whose file is not
    kept yet; so a link in one identity's folder to another identity's image never outranks
    the image itself. A path that cannot be read (a broken link) is kept, to fail by name when
    it is loaded.

    Returns:
        The kept paths of each group (sorted), and how many paths were left out.
    """
    seen: set[object] = set()
    kept: list[list[Path]] = [[] for _ in groups]
    dropped = 0
    for links in (False, True):
        for index, group in enumerate(groups):
            for path in group:
                if path.is_symlink() != links:
                    continue
                try:
                    stat = path.stat()
                    key: object = (stat.st_dev, stat.st_ino)
                except OSError:
                    key = path
                if key in seen:
                    dropped += 1
                    continue
                seen.add(key)
                kept[index].append(path)
    return [sorted(paths) for paths in kept], dropped
