"""The MOTChallenge adapter: re-id crops from tracking ground truth (MOT17, MOT20, DanceTrack).

The rules (layout, filters, identities, the query / gallery time rule) are stated once, in
:class:`MOTChallenge`'s docstring; the file formats in :mod:`siamreid.data.datasets._mot_format` and
the crop cache in :mod:`siamreid.data.datasets._mot_crops`.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from siamreid.data.datasets._mot_crops import Crop, CropSettings, SequenceFiles, cached_crops
from siamreid.data.datasets._mot_format import parse_seqinfo
from siamreid.data.datasets._mot_layout import sequence_folders, split_folder_of
from siamreid.data.datasets._mot_options import MOTOptions, MOTSplit
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import ConfigError, DatasetLayoutError

__all__ = ["CACHE_FOLDER", "MOTChallenge", "MOTOptions", "MOTSplit"]

CACHE_FOLDER = ".siamreid-crops"
_MOT17_DETECTOR = re.compile(r"-(DPM|FRCNN|SDP)$")
_SOURCE = (
    "MOT17 and MOT20 come from https://motchallenge.net (the 'Get all data' archives), "
    "DanceTrack from https://github.com/DanceTrack/DanceTrack; unzip so that `root` holds "
    "train/ (and test/) with one folder per sequence (or holds that folder), or the sequence "
    "folders themselves. For an "
    "offline stand-in, write synthetic sequences with `siamreid synth --mot --out DIR` "
    "(siamreid.data.make_synthetic_mot)."
)


class MOTChallenge:
    """Re-id splits cut from MOTChallenge-format tracking ground truth.

    *Layout.* ``root`` holds ``train/``, ``val/`` and/or ``test/`` folders of sequences (as
    MOT17, MOT20 and DanceTrack unzip), or the sequence folders themselves. A sequence folder
    holds ``seqinfo.ini``, its frames (``img1/000001.jpg``...) and ``gt/gt.txt`` (rows
    ``frame,id,left,top,width,height,flag,class,visibility``). Sequences without ``gt/gt.txt``
    (MOT17's and MOT20's own ``test/`` sequences ship without ground truth) cannot give
    identities: they are skipped, and the summary's notes name them. MOT17 ships each sequence
    three times with the same frames and ground truth (``MOT17-02-DPM``, ``-FRCNN``, ``-SDP``);
    only the first copy is read, so that one video never lands in both train and test.

    *Crops.* A box is kept when its flag is 1, its class is in ``classes`` (default:
    pedestrians, class 1), its visibility is at least ``min_visibility`` and its frame is one of
    every ``frame_step``-th (frames 1, 1 + step, ...); it is clipped to the image and dropped if
    the clipped crop is lower than ``min_height`` pixels. Crops are cut once into ``cache_dir``
    and reused by later loads; a changed setting or annotation cuts anew, and an interrupted cut
    is redone.

    *Identities and cameras.* An identity is a ``(sequence, track id)`` pair: the same id in two
    sequences is two people. Sequences go to train or test whole, as ``test_sequences`` says or
    by a seeded rule: the sorted names are shuffled with ``numpy.random.default_rng(seed)`` and
    the first ``round(n * test_fraction)`` (at least one, leaving one for training) are test
    sequences. The ``train/`` / ``test/`` folders of a MOTChallenge download are the tracking
    benchmark's split, not this one, unless ``split="folders"``: then ``train/``'s sequences
    train and ``val/``'s and ``test/``'s are tested (MOT17's and MOT20's ``test/`` have no ground
    truth, so this suits DanceTrack and synthetic sequences). Train pids are ``0..N-1`` in
    (sequence, track id) order, and each train sequence is one camera. Test identities are
    numbered ``1..M`` in the same order.

    *The query / gallery time rule.* Inside one camera, the Market-1501 protocol would match a
    query with the next frame of the same track. So each test sequence's frames are cut into
    windows of ``query_window`` frames (``1..W``, ``W+1..2W``, ...), each its own pseudo-camera.
    For each identity and window, the crop nearest the window's middle whose frame lies at least
    ``min_gap`` frames from every other window becomes a query; every other crop goes to the
    gallery. The same-camera rule of the evaluation then removes the query's own window from its
    matches, and every remaining match of the same identity lies at least ``min_gap`` frames
    away. A query left without any such match goes back to the gallery.

    Args:
        root: Folder holding ``train/`` / ``val/`` / ``test/`` of sequences, the folder holding
            that one (``data/`` holding ``MOT17/``), or the sequences.
        classes: MOT classes to keep (1 pedestrian; MOT17 also has 2 person on vehicle,
            7 static person...).
        min_visibility: Least visibility (``gt.txt``'s last field) of a kept box.
        min_height: Least height in pixels of a kept crop, after clipping to the image.
        frame_step: Keep frames ``1, 1 + frame_step, ...`` (consecutive frames are near copies).
        cache_dir: Where crops are cached; default ``root/.siamreid-crops``.
        test_sequences: Names of the test sequences (``MOT17-09`` or ``MOT17-09-FRCNN`` both
            name the MOT17 sequence); default: the seeded rule.
        seed: Seed of the train / test sequence split.
        split_seed: Same as ``seed`` (give one or the other).
        test_fraction: Share of sequences the seeded rule puts in test.
        query_window: Frames per window (pseudo-camera) of a test sequence.
        min_gap: Least distance in frames between a query and a gallery crop of its identity in
            another window.
        split: ``"seeded"`` (the rule above) or ``"folders"`` (the download's folders).

    Raises:
        ConfigError: A setting is out of range.

    Example:
        >>> splits = MOTChallenge("data/MOT17", test_sequences=["MOT17-09"])  # doctest: +SKIP
        >>> print(splits.load().summary())  # doctest: +SKIP
    """

    name = "MOTChallenge"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        classes: Iterable[int] = (1,),
        min_visibility: float = 0.3,
        min_height: int = 50,
        frame_step: int = 5,
        cache_dir: str | os.PathLike[str] | None = None,
        test_sequences: Sequence[str] | None = None,
        seed: int = 0,
        split_seed: int | None = None,
        test_fraction: float = 0.5,
        query_window: int = 20,
        min_gap: int = 5,
        split: MOTSplit = "seeded",
    ) -> None:
        self.root = Path(root)
        options = MOTOptions(  # checks every setting
            classes=tuple(sorted(set(classes))),
            min_visibility=float(min_visibility),
            min_height=int(min_height),
            frame_step=int(frame_step),
            test_sequences=None if test_sequences is None else tuple(test_sequences),
            test_fraction=float(test_fraction),
            query_window=int(query_window),
            min_gap=int(min_gap),
            split=split,
        )
        self.settings = CropSettings(
            classes=options.classes,
            min_visibility=options.min_visibility,
            min_height=options.min_height,
            frame_step=options.frame_step,
        )
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.root / CACHE_FOLDER
        self.test_sequences = None if test_sequences is None else list(test_sequences)
        if split_seed is not None and split_seed != seed and seed != 0:
            raise ConfigError(
                f"MOTChallenge: seed={seed} and split_seed={split_seed} disagree; give one."
            )
        self.seed = seed if split_seed is None else split_seed
        self.test_fraction = test_fraction
        self.query_window, self.min_gap = query_window, min_gap
        self.split_by: MOTSplit = split

    def sequences(self) -> tuple[list[SequenceFiles], list[str]]:
        """The usable sequences (sorted by name) and notes on those skipped.

        Raises:
            DatasetLayoutError: ``root`` is missing or holds no sequence with ground truth, two
                sequences share a name, or a ``seqinfo.ini`` does not parse.
        """
        folders = sequence_folders(self.root, _SOURCE)
        found: dict[str, SequenceFiles] = {}
        no_gt, copies = [], []
        for folder in folders:
            gt = folder / "gt" / "gt.txt"
            if not gt.is_file():
                no_gt.append(folder.name)
                continue
            info = parse_seqinfo(folder / "seqinfo.ini")
            if folder.name in found:
                raise DatasetLayoutError(
                    f"Two sequences are named {folder.name!r} ({str(found[folder.name].folder)!r}"
                    f" and {str(folder)!r}); rename or remove one."
                )
            found[folder.name] = SequenceFiles(folder.name, folder, info, gt)
        kept: dict[str, SequenceFiles] = {}
        for name in sorted(found):
            base = _MOT17_DETECTOR.sub("", name)
            if base in kept:
                copies.append(name)
            else:
                kept[base] = found[name]
        notes = []
        if no_gt:
            notes.append(
                f"skipped {len(no_gt)} sequence(s) without gt/gt.txt ({', '.join(no_gt)}): "
                "MOTChallenge test sequences ship without ground truth"
            )
        if copies:
            notes.append(f"read once: {', '.join(copies)} repeat the frames and gt of another")
        if not kept:
            raise DatasetLayoutError(
                f"No sequence with ground truth (gt/gt.txt) under {str(self.root)!r}"
                f"{' (' + notes[0] + ')' if no_gt else ''}. {_SOURCE}"
            )
        return [kept[b] for b in sorted(kept, key=lambda b: kept[b].name)], notes

    def split(self, names: Sequence[str]) -> tuple[list[str], list[str]]:
        """Train and test sequence names (each sorted): ``test_sequences``, or the seeded rule.

        Raises:
            DatasetLayoutError: A named test sequence does not exist, or train or test would be
                empty.
        """
        if self.test_sequences is not None:
            test = set()
            for entry in self.test_sequences:
                base = _MOT17_DETECTOR.sub("", entry)
                match = [n for n in names if base == _MOT17_DETECTOR.sub("", n)]
                if not match:
                    raise DatasetLayoutError(
                        f"test_sequences names {entry!r}, which is not a sequence with ground "
                        f"truth under {str(self.root)!r}; known: {', '.join(names)}."
                    )
                test.update(match)
        else:
            if len(names) < 2:
                raise DatasetLayoutError(
                    f"Only one sequence with ground truth under {str(self.root)!r} "
                    f"({', '.join(names)}); train and test need one each. Add sequences."
                )
            order = np.random.default_rng(self.seed).permutation(len(names))
            count = min(max(round(len(names) * self.test_fraction), 1), len(names) - 1)
            test = {names[i] for i in order[:count]}
        train = [n for n in names if n not in test]
        if not train:
            raise DatasetLayoutError(
                f"test_sequences takes every sequence under {str(self.root)!r}; leave at least "
                "one for training."
            )
        return train, sorted(test)

    def load(self) -> ReidSplits:
        """Cut (or reuse) the crops and build the splits.

        Returns:
            Splits named ``"MOTChallenge"`` (see the module docstring); the notes name the
            train and test sequences, the time rule and any sequence skipped.

        Raises:
            DatasetLayoutError: See :meth:`sequences` and :meth:`split`; a ``gt.txt`` line does
                not parse; a frame is missing; or a split ends up empty after the filters.
            ImageLoadError: A frame image cannot be read.
        """
        sequences, notes = self.sequences()
        by_name = {s.name: s for s in sequences}
        train_names, test_names = self._split_sequences(sequences)
        cut = {n: cached_crops(by_name[n], self.settings, self.cache_dir) for n in by_name}
        tracks = sorted({(cam, c.track_id) for cam, n in enumerate(train_names) for c in cut[n][1]})
        pid = {track: i for i, track in enumerate(tracks)}
        train = [
            ReidSample(cut[name][0] / c.file, pid[(camid, c.track_id)], camid)
            for camid, name in enumerate(train_names)
            for c in cut[name][1]
        ]
        query, gallery = self._query_gallery([(cut[n][0], cut[n][1]) for n in test_names])
        self._check_nonempty(train, query)
        rule = (
            f"{self.query_window}-frame windows as pseudo-cameras, queries >= {self.min_gap} "
            "frames from other windows"
        )
        notes = [
            f"train sequences: {', '.join(train_names)}",
            f"test sequences: {', '.join(test_names)} ({rule})",
            self._split_note(sequences),
            *notes,
        ]
        return ReidSplits(
            train=train, query=query, gallery=gallery, name=self.name, notes=tuple(notes)
        )

    def _split_sequences(self, sequences: Sequence[SequenceFiles]) -> tuple[list[str], list[str]]:
        """Train and test sequence names, by :meth:`split` or (``split="folders"``) by folder.

        Raises:
            DatasetLayoutError: The folders leave train or test without a sequence with ground
                truth.
        """
        if self.split_by == "seeded":
            return self.split([s.name for s in sequences])
        folder_of = {s.name: split_folder_of(s.folder) for s in sequences}
        train = [n for n, f in folder_of.items() if f == "train"]
        test = sorted(n for n, f in folder_of.items() if f in ("val", "test"))
        if not train or not test:
            raise DatasetLayoutError(
                f"split='folders' needs sequences with ground truth in train/ and in val/ or "
                f"test/ under {str(self.root)!r}; found train: {', '.join(train) or 'none'}, "
                f"test: {', '.join(test) or 'none'} (MOT17's and MOT20's test/ ship without "
                "ground truth). Use the seeded split (split='seeded') or test_sequences."
            )
        return sorted(train), test

    def _split_note(self, sequences: Sequence[SequenceFiles]) -> str:
        """What decided the train / test sequences, for the summary."""
        if self.split_by == "folders":
            return "sequences split by the download's folders: train/ trains, val/ and test/ test"
        if self.test_sequences is not None:
            return "test sequences as test_sequences names them"
        in_folders = any(split_folder_of(s.folder) is not None for s in sequences)
        ignored = (
            ", not by the download's train/ and test/ folders (options split: folders uses them)"
            if in_folders
            else ""
        )
        return f"sequences split by seed {self.seed} (test_fraction {self.test_fraction}){ignored}"

    def _query_gallery(
        self, sequences: list[tuple[Path, list[Crop]]]
    ) -> tuple[list[ReidSample], list[ReidSample]]:
        query: list[ReidSample] = []
        gallery: list[ReidSample] = []
        first_pid, first_cam = 1, 0
        for folder, crops in sequences:
            tracks = sorted({c.track_id for c in crops})
            pid = {t: first_pid + i for i, t in enumerate(tracks)}
            chosen = _queries(crops, self.query_window, self.min_gap)
            for c in crops:
                camid = first_cam + _window(c, self.query_window)
                sample = ReidSample(folder / c.file, pid[c.track_id], camid)
                (query if c in chosen else gallery).append(sample)
            first_pid += len(tracks)
            first_cam += max((_window(c, self.query_window) for c in crops), default=-1) + 1
        return query, gallery

    def _check_nonempty(self, train: list[ReidSample], query: list[ReidSample]) -> None:
        s = self.settings
        filters = (
            f"flag 1, classes {list(s.classes)}, visibility >= {s.min_visibility}, height >= "
            f"{s.min_height} px, every {s.frame_step}-th frame"
        )
        if not train:
            raise DatasetLayoutError(
                f"No training crop under {str(self.root)!r} passes the filters ({filters}); "
                "loosen them."
            )
        if not query:
            raise DatasetLayoutError(
                f"No query under {str(self.root)!r}: no test identity is seen in two "
                f"{self.query_window}-frame windows at least {self.min_gap} frames apart "
                f"(filters: {filters}). Lower query_window or min_gap, or frame_step."
            )


def _queries(crops: list[Crop], window: int, gap: int) -> set[Crop]:
    """The query crops of one sequence under the time rule of the module docstring."""
    by_key: dict[tuple[int, int], list[Crop]] = defaultdict(list)
    for c in crops:
        by_key[(c.track_id, _window(c, window))].append(c)
    windows_of: dict[int, set[int]] = defaultdict(set)
    for track, k in by_key:
        windows_of[track].add(k)
    chosen = set()
    for (track, k), members in by_key.items():
        if len(windows_of[track]) < 2:
            continue  # no match in another window
        first, last = k * window + 1, (k + 1) * window
        middle = (first + last) / 2
        allowed = [c for c in members if first - 1 + gap <= c.frame <= last + 1 - gap]
        if allowed:
            chosen.add(min(allowed, key=lambda c: (abs(c.frame - middle), c.frame)))
    # A query needs a gallery crop of its identity in another window; one that has none (its
    # identity's other windows gave their only crops to queries) goes back to the gallery.
    gallery_windows: dict[int, set[int]] = defaultdict(set)
    for c in crops:
        if c not in chosen:
            gallery_windows[c.track_id].add(_window(c, window))
    for q in sorted(chosen, key=lambda c: (c.track_id, c.frame)):
        if not gallery_windows[q.track_id] - {_window(q, window)}:
            chosen.discard(q)
            gallery_windows[q.track_id].add(_window(q, window))
    return chosen


def _window(crop: Crop, window: int) -> int:
    """The 0-based window (pseudo-camera within its sequence) of a crop's frame."""
    return (crop.frame - 1) // window
