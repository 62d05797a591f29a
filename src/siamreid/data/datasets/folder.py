"""Users' own data: ``root/<identity>/<image>``, split into train/query/gallery by a seeded rule.

The split rule (deterministic for a given ``seed``):

1. Identity folders are sorted by name; identity ``i`` (0-based in that order) gets the original
   pid ``i + 1`` (``0`` stays free: Market-1501 uses it for distractors).
2. A ``numpy.random.Generator(seed)`` permutes the identities; the first
   ``round(train_fraction * N)`` (at least 1, at most ``N - 1``) are training identities,
   relabelled ``0..T-1`` in folder-name order. The others are test identities.
3. Each test identity's images are shuffled by the same generator. With cameras, the first image
   of each camera (in camera order) becomes a query if every query of that identity still has a
   gallery image from another camera; without cameras, the first image becomes the query when
   the identity has at least two. Every other test image goes to the gallery (identities that
   cannot be queried act as distractors).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from siamreid.data.images import unique_images, walk_images
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import ConfigError, DatasetLayoutError

__all__ = ["ImageFolderReid"]

logger = logging.getLogger(__name__)

_NO_CAMERA_NOTE = (
    "no camera ids (camera_pattern {pattern!r} matched no file name): every gallery image of the "
    "query's identity counts as a match and only the query image itself is left out; with "
    "camera ids, same-camera matches would be excluded as in Market-1501."
)


class ImageFolderReid:
    """Reads ``root/<identity>/<image>`` and splits identities into train/query/gallery.

    Args:
        root: Folder with one sub-folder per identity (nested folders below it are read too).
            Symbolic links to folders are not followed (a link to the root or to another
            identity would count its images twice), and a file that links to an image already
            counted is left out (real files win over links); the summary notes how many.
        camera_pattern: Regular expression searched in each file name; its first group is the
            camera. Distinct camera values map to ``0..C-1`` in sorted order. ``None`` (or a
            pattern matching no file) means the data has no cameras: ``camid`` is ``None``.
        train_fraction: Share of identities used for training.
        seed: Seed of the identity split and of the query choice.
        name: Dataset name shown in the summary.

    Raises:
        ConfigError: ``camera_pattern`` is not a regex with a group, or ``train_fraction`` is
            not in (0, 1).

    Example:
        >>> people = ImageFolderReid("my_people", camera_pattern=r"cam(\\d+)")  # doctest: +SKIP
        >>> splits = people.load()  # doctest: +SKIP
        >>> print(splits.summary())  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        camera_pattern: str | None = r"c(\d+)",
        *,
        train_fraction: float = 0.5,
        seed: int = 0,
        name: str = "ImageFolderReid",
    ) -> None:
        if not 0.0 < train_fraction < 1.0:
            raise ConfigError(f"train_fraction must be in (0, 1), got {train_fraction}.")
        self.root = Path(root)
        self.camera_pattern = camera_pattern
        self._regex = _compile(camera_pattern)
        self.train_fraction = train_fraction
        self.seed = seed
        self.name = name
        self._skipped_note = ""

    def load(self) -> ReidSplits:
        """Read the folder and split it (see the module docstring for the rule).

        Raises:
            DatasetLayoutError: ``root`` is missing, holds fewer than two identity folders with
                images, some but not all file names carry a camera, or no test identity can be
                queried.
        """
        identities = self._identities()
        cameras = self._cameras([p for _, paths in identities for p in paths])
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(identities))
        num_train = min(max(round(self.train_fraction * len(identities)), 1), len(identities) - 1)
        train_ids = sorted(order[:num_train].tolist())
        train = [
            ReidSample(path, label, cameras.get(path))
            for label, index in enumerate(train_ids)
            for path in identities[index][1]
        ]
        query: list[ReidSample] = []
        gallery: list[ReidSample] = []
        for index in sorted(order[num_train:].tolist()):
            samples = [ReidSample(p, index + 1, cameras.get(p)) for p in identities[index][1]]
            shuffled = [samples[i] for i in rng.permutation(len(samples))]
            picked = _pick_queries(shuffled)
            query.extend(picked)
            gallery.extend(s for s in samples if s not in picked)
        if not query:
            raise DatasetLayoutError(
                f"No test identity under {str(self.root)!r} can be queried: each needs two images "
                "(from two cameras when cameras are known). Add images or lower train_fraction."
            )
        notes = () if cameras else (_NO_CAMERA_NOTE.format(pattern=self.camera_pattern),)
        if self._skipped_note:
            notes = (*notes, self._skipped_note)
        return ReidSplits(train, sorted(query, key=_key), gallery, name=self.name, notes=notes)

    def _identities(self) -> list[tuple[str, list[Path]]]:
        if not self.root.is_dir():
            raise DatasetLayoutError(
                f"Image folder {str(self.root)!r} does not exist; expected root/<identity>/<image> "
                "(one sub-folder of images per person)."
            )
        entries = sorted(p for p in self.root.iterdir() if p.is_dir())
        folders = [p for p in entries if not p.is_symlink()]
        links = len(entries) - len(folders)
        walked = [walk_images(f) for f in folders]
        links += sum(n for _, n in walked)
        groups, duplicates = unique_images([paths for paths, _ in walked])
        identities = [(f.name, paths) for f, paths in zip(folders, groups, strict=True) if paths]
        self._skipped_note = _skipped_note(links, duplicates)
        if self._skipped_note:
            logger.warning("%s: %s", self.root, self._skipped_note)
        if len(identities) < 2:
            raise DatasetLayoutError(
                f"Image folder {str(self.root)!r} has {len(identities)} identity folder(s) with "
                "images; expected at least two, laid out as root/<identity>/<image>.jpg"
                + (f" ({self._skipped_note})" if self._skipped_note else "")
                + "."
            )
        return identities

    def _cameras(self, paths: Sequence[Path]) -> dict[Path, int]:
        """0-based camera of every path, or ``{}`` when no file name carries one."""
        if self._regex is None:
            return {}
        found = {p: m.group(1) for p in paths if (m := self._regex.search(p.name)) is not None}
        if not found:
            return {}
        missing = [p for p in paths if p not in found]
        if missing:
            raise DatasetLayoutError(
                f"File {str(missing[0])!r} has no camera matching {self.camera_pattern!r} while "
                f"{len(found)} other files do. Rename it, fix camera_pattern, or pass "
                "camera_pattern=None to ignore cameras."
            )
        index = {value: i for i, value in enumerate(sorted(set(found.values()), key=_natural))}
        return {p: index[value] for p, value in found.items()}


def _compile(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ConfigError(f"camera_pattern {pattern!r} is not a valid regex: {err}.") from err
    if regex.groups < 1:
        raise ConfigError(
            f"camera_pattern {pattern!r} has no group; put the camera in parentheses, "
            r"e.g. r'c(\d+)'."
        )
    return regex


def _skipped_note(links: int, duplicates: int) -> str:
    """What the folder walk left out, as a summary note ("" when nothing)."""
    parts = []
    if links:
        parts.append(f"{links} linked folder(s) not followed")
    if duplicates:
        parts.append(f"{duplicates} link(s) to an image already counted left out")
    return " and ".join(parts) + (", so that no image counts twice" if parts else "")


def _pick_queries(shuffled: list[ReidSample]) -> list[ReidSample]:
    """Queries of one test identity (images already shuffled): see the module docstring."""
    if any(s.camid is None for s in shuffled):
        return shuffled[:1] if len(shuffled) >= 2 else []
    queries: list[ReidSample] = []
    for camid in sorted({s.camid for s in shuffled if s.camid is not None}):
        trial = [*queries, next(s for s in shuffled if s.camid == camid)]
        gallery_cams = {s.camid for s in shuffled if s not in trial}
        # every query, old and new, must keep a gallery image from another camera
        if all(gallery_cams - {q.camid} for q in trial):
            queries = trial
    return queries


def _natural(value: str) -> tuple[int, str]:
    """Sort key putting ``"2"`` before ``"10"``."""
    return (int(value), value) if value.isdigit() else (1 << 62, value)


def _key(sample: ReidSample) -> Path:
    return sample.path
