"""Person crops cut from MOTChallenge sequences once, and kept in a cache folder.

A sequence's crops live in ``<cache>/<sequence>-<key>/``: one JPEG per kept box, named
``<track id:06d>_<frame:06d>.jpg``, and ``crops.json`` listing them. The key hashes everything
that changes the crops (the box filters, the frame step, this format's version, the bytes of
``gt.txt`` and ``seqinfo.ini``, and the name, size and ``st_mtime_ns`` of every frame in the
image folder), so a changed setting or annotation, or a frame replaced, added or removed, cuts a
new folder and never reuses a stale one. Frames are keyed by their metadata, not their bytes
(hashing every frame on every load would cost as much as cutting): a frame rewritten in place
with the same size within the file system's timestamp resolution would go unseen.

The folder is cut into a temporary folder beside it, ``crops.json`` is written last, and only
then is the folder renamed into place: a folder without ``crops.json`` (an interrupted cut) is
never read, and is cut again. Writers hold the cache's lock, so two processes
(for example, two DDP ranks) do not cut the same sequence twice at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from siamreid._io import (
    atomic_write_json,
    read_record,
    record,
    remove_stale_temps,
    temp_dir,
    writer_lock,
)
from siamreid.data.datasets._mot_format import MOTBox, SeqInfo, parse_gt
from siamreid.data.images import load_image
from siamreid.errors import DatasetLayoutError, SiamreidError

__all__ = ["MARKER", "Crop", "CropSettings", "SequenceFiles", "cached_crops", "clip_box"]

MARKER = "crops.json"
_FORMAT, _VERSION = "siamreid.mot_crops", 1
_QUALITY = 95


@dataclass(frozen=True)
class CropSettings:
    """The settings that change which crops are cut, and how."""

    classes: tuple[int, ...]
    min_visibility: float
    min_height: int
    frame_step: int

    def keeps(self, box: MOTBox) -> bool:
        """Whether a box passes the flag, class, visibility and frame-step filters."""
        return (
            box.flag == 1
            and box.cls in self.classes
            and box.visibility >= self.min_visibility
            and (box.frame - 1) % self.frame_step == 0
        )


@dataclass(frozen=True)
class Crop:
    """One cut crop: its file name in the sequence's cache folder, its track and frame."""

    file: str
    track_id: int
    frame: int


@dataclass(frozen=True)
class SequenceFiles:
    """Where a sequence's files are."""

    name: str
    folder: Path
    info: SeqInfo
    gt: Path


def clip_box(box: MOTBox, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box as ``(left, top, right, bottom)`` pixels clipped to an image of ``size``
    (width, height), or ``None`` when nothing of it lies inside."""
    x0, y0 = max(round(box.left), 0), max(round(box.top), 0)
    x1 = min(round(box.left + box.width), size[0])
    y1 = min(round(box.top + box.height), size[1])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _frame_files(seq: SequenceFiles) -> dict[int, Path]:
    folder = seq.folder / seq.info.im_dir
    if not folder.is_dir():
        raise DatasetLayoutError(
            f"Image folder {str(folder)!r} is missing (seqinfo.ini says imDir={seq.info.im_dir}); "
            "re-extract the sequence."
        )
    ext = seq.info.im_ext.lower()
    return {
        int(p.stem): p for p in folder.iterdir() if p.suffix.lower() == ext and p.stem.isdigit()
    }


def _cut(seq: SequenceFiles, settings: CropSettings, out: Path) -> list[Crop]:
    by_frame: dict[int, list[MOTBox]] = defaultdict(list)
    for box in parse_gt(seq.gt, max_frame=seq.info.length):
        if settings.keeps(box):
            by_frame[box.frame].append(box)
    frames = _frame_files(seq) if by_frame else {}
    crops = []
    for frame in sorted(by_frame):
        if frame not in frames:
            raise DatasetLayoutError(
                f"{seq.gt!s} has boxes in frame {frame}, but "
                f"{str(seq.folder / seq.info.im_dir)!r} holds no image {frame:06d}"
                f"{seq.info.im_ext}; re-extract the sequence."
            )
        image = load_image(frames[frame])
        for box in sorted(by_frame[frame], key=lambda b: b.track_id):
            region = clip_box(box, image.size)
            if region is None or region[3] - region[1] < settings.min_height:
                continue
            crop = Crop(f"{box.track_id:06d}_{frame:06d}.jpg", box.track_id, frame)
            image.crop(region).save(out / crop.file, quality=_QUALITY)
            crops.append(crop)
    return crops


def _key(seq: SequenceFiles, settings: CropSettings) -> str:
    digest = hashlib.sha256()
    # The source folder is part of the key: another copy of a sequence may differ in its frames.
    source = str(seq.folder.resolve())
    digest.update(json.dumps([_FORMAT, _VERSION, asdict(settings), source]).encode())
    digest.update(seq.gt.read_bytes())
    digest.update((seq.folder / "seqinfo.ini").read_bytes())
    digest.update(json.dumps(_frame_stamps(seq)).encode())
    return digest.hexdigest()[:16]


def _frame_stamps(seq: SequenceFiles) -> list[tuple[int, int, int]]:
    """``(frame, size, st_mtime_ns)`` of each frame image (none when the folder is missing: the
    cut then fails naming it)."""
    if not (seq.folder / seq.info.im_dir).is_dir():
        return []
    stamps = []
    for frame, path in sorted(_frame_files(seq).items()):
        try:
            stat = path.stat()
        except OSError:  # a broken link: the cut names it
            stamps.append((frame, -1, -1))
        else:
            stamps.append((frame, stat.st_size, stat.st_mtime_ns))
    return stamps


def _read_complete(folder: Path, key: str) -> list[Crop] | None:
    """The crops of a complete cache folder for ``key``; ``None`` if absent or incomplete."""
    try:
        data = read_record(
            folder / MARKER,
            format_name=_FORMAT,
            max_version=_VERSION,
            error=DatasetLayoutError,
            hint="",
        )
        if data["key"] != key:
            return None
        return [Crop(str(f), int(t), int(n)) for f, t, n in data["crops"]]
    except (SiamreidError, KeyError, TypeError, ValueError):
        return None


def cached_crops(
    seq: SequenceFiles, settings: CropSettings, cache: Path
) -> tuple[Path, list[Crop]]:
    """The sequence's crops, cut into ``cache`` unless a complete cut is there already.

    Returns:
        The sequence's cache folder and its crops (in frame, then track order).

    Raises:
        DatasetLayoutError: ``gt.txt`` does not parse, a frame image is missing, or the cache
            folder cannot be written.
        ImageLoadError: A frame image cannot be read.
    """
    key = _key(seq, settings)
    final = cache / f"{seq.name}-{key}"
    crops = _read_complete(final, key)
    if crops is not None:
        return final, crops
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetLayoutError(
            f"Cannot create the crop cache {str(cache)!r} ({err}); pass cache_dir= a writable "
            "folder."
        ) from err
    with writer_lock(cache, what="MOTChallenge crop cache", error=DatasetLayoutError, wait=True):
        crops = _read_complete(final, key)  # another process may have cut it while we waited
        if crops is not None:
            return final, crops
        remove_stale_temps(cache)  # left by interrupted cuts
        tmp = temp_dir(final)
        try:
            crops = _cut(seq, settings, tmp)
            fields = {
                "sequence": seq.name,
                "source": str(seq.folder),
                "key": key,
                "settings": asdict(settings),
                "crops": [[c.file, c.track_id, c.frame] for c in crops],
            }
            atomic_write_json(tmp / MARKER, record(_FORMAT, _VERSION, fields))
            shutil.rmtree(final, ignore_errors=True)  # an interrupted cut without its marker
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final, crops
