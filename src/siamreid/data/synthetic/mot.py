"""Synthetic MOTChallenge sequences: the synthetic people walking across each camera's scene.

Design
------
Each sequence (``SYN-01``, ``SYN-02``...) is one camera of the synthetic Market-1501
(:mod:`siamreid.data.synthetic.market`: its scene drawn at frame size, colour cast, blur, noise
and JPEG quality) watched for ``num_frames`` frames. Its ``num_people`` pedestrians are new
people (:mod:`siamreid.data.synthetic._figures`) who walk sideways at constant speed (1.5-4 px
per frame, either way) at a depth that sets their height (60-150 px), entering and leaving the
frame; their pose changes every frame. They pass in front of each other and behind a
foreground occluder (a pillar or a low wall), and leave the frame at its borders, so some
ground-truth boxes extend past the image.

Ground truth (``gt/gt.txt``) follows MOT17: ``frame,id,left,top,width,height,flag,class,
visibility``, sorted by id then frame, boxes in pixels, one row per frame in which the box
overlaps the image. Pedestrians are class 1, flag 1; their visibility is the share of the
person's drawn pixels (in or out of the frame) that are seen, so occlusion and truncation both
lower it. Each sequence also has rows that a re-id reader must drop: a person standing still
(class 7 "static person", flag 0), a poster of a person on the wall (class 8 "distractor",
flag 0) and the occluder itself (class 9, flag 0).

The first ``num_sequences - num_sequences // 2`` sequences go to ``train/``, the rest to
``test/``. Unlike MOT17's own test split, synthetic test sequences carry ground truth, so that
trackers can be scored on them. Every frame is drawn from generators keyed on ``(seed, sequence,
track, frame)``: the same seed writes byte-identical files. The tree is written into a temporary
folder beside ``root/train`` and moved into place when complete.

*Measured* (defaults: 4 sequences of 60 frames, 320x240, 6 people): 3 s of CPU time on a
shared 2-core machine; :class:`MOTChallenge` then cuts its 254 crops in 0.1 s of CPU time.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from siamreid._io import atomic_write_stream, atomic_write_text, temp_dir
from siamreid._paths import refuse_unowned, write_manifest
from siamreid.data.synthetic._figures import (
    HEIGHT,
    WIDTH,
    draw_person,
    random_colour,
    random_person,
)
from siamreid.data.synthetic.market import _Camera, _camera, _photograph
from siamreid.errors import ConfigError, DatasetLayoutError

__all__ = ["make_synthetic_mot"]

PEDESTRIAN, STATIC_PERSON, DISTRACTOR, OCCLUDER = 1, 7, 8, 9  # MOT17 class numbers
FRAME_RATE = 30
_SPLITS = ("train", "test")
_GENERATOR = "siamreid synth --mot"


@dataclass(frozen=True)
class _Actor:
    """Something drawn in every frame and annotated in gt.txt."""

    track_id: int
    cls: int
    flag: int
    x_mid: float  # centre x at the middle frame
    speed: float  # px per frame; 0 for what stands still
    foot: float  # bottom y; also the drawing order (larger is nearer)


@dataclass(frozen=True)
class _Placed:
    """One actor's sprite (RGBA) at its place in one frame."""

    actor: _Actor
    sprite: Image.Image
    left: int
    top: int


def _person_sprite(
    seed: int, seq: int, actor: _Actor, frame: int, height: float, back: bool
) -> Image.Image:
    """The person drawn on a transparent canvas, cut to its pixels and scaled to ``height``."""
    rng = np.random.default_rng([seed, 7, seq, actor.track_id])
    person = random_person(rng)
    canvas = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    pose = np.random.default_rng([seed, 8, seq, actor.track_id, frame if actor.speed else 0])
    draw_person(canvas, person, pose, back, top=2.0)
    box = canvas.getchannel("A").getbbox()
    assert box is not None  # draw_person always draws
    canvas = canvas.crop(box)
    if actor.speed < 0:
        canvas = canvas.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    scale = height / canvas.height
    size = (max(round(canvas.width * scale), 1), max(round(height), 1))
    return canvas.resize(size, Image.Resampling.BILINEAR)


def _occluder_sprite(rng: np.random.Generator, frame_size: tuple[int, int]) -> Image.Image:
    w, h = frame_size
    size = (int(w * rng.uniform(0.06, 0.1)), h) if rng.random() < 0.5 else (w // 3, h // 4)
    return Image.new("RGBA", size, (*random_colour(rng, shade=30), 255))


def _actors(
    seed: int, seq: int, num_people: int, frame_size: tuple[int, int]
) -> tuple[list[_Actor], Image.Image]:
    """The pedestrians, the static person, the poster, and the occluder with its sprite."""
    w, h = frame_size
    rng = np.random.default_rng([seed, 9, seq])
    actors = [
        _Actor(
            track_id=i + 1,
            cls=PEDESTRIAN,
            flag=1,
            x_mid=float(rng.uniform(0.1, 0.9) * w),
            speed=float(rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 4.0)),
            foot=float(rng.uniform(0.55, 1.05) * h),
        )
        for i in range(num_people)
    ]
    n = num_people
    actors.append(_Actor(n + 1, STATIC_PERSON, 0, float(rng.uniform(0.1, 0.9) * w), 0.0, 0.7 * h))
    actors.append(_Actor(n + 2, DISTRACTOR, 0, float(rng.uniform(0.2, 0.8) * w), 0.0, 0.0))
    occluder = _occluder_sprite(rng, frame_size)
    x = float(rng.uniform(0.25, 0.75) * w)
    actors.append(_Actor(n + 3, OCCLUDER, 0, x, 0.0, float(h)))
    return actors, occluder


def _height(actor: _Actor, frame_size: tuple[int, int]) -> float:
    """Perspective: people lower in the frame are nearer, hence taller (60-150 px at 240)."""
    h = frame_size[1]
    if actor.cls == DISTRACTOR:
        return 0.25 * h
    return h * (0.25 + 0.375 * (actor.foot / h - 0.55) / 0.5)


def _place(
    actors: list[_Actor],
    occluder: Image.Image,
    seed: int,
    seq: int,
    frame: int,
    num_frames: int,
    frame_size: tuple[int, int],
) -> list[_Placed]:
    placed = []
    for actor in actors:
        x = actor.x_mid + actor.speed * (frame - (num_frames + 1) / 2)
        if actor.cls == OCCLUDER:
            sprite = occluder
            top = int(actor.foot) - sprite.height
        else:
            back = bool(np.random.default_rng([seed, 10, seq, actor.track_id]).random() < 0.5)
            sprite = _person_sprite(seed, seq, actor, frame, _height(actor, frame_size), back)
            top = round(actor.foot) - sprite.height if actor.cls != DISTRACTOR else 12
        placed.append(_Placed(actor, sprite, round(x) - sprite.width // 2, top))
    return sorted(placed, key=lambda p: (p.actor.foot, p.actor.track_id))


def _compose(scene: Image.Image, placed: list[_Placed]) -> tuple[Image.Image, dict[int, float]]:
    """The frame, and each actor's visibility: its seen pixels over all its drawn pixels."""
    frame = scene.copy()
    w, h = frame.size
    owner = np.full((h, w), -1, dtype=np.int32)
    drawn: dict[int, int] = {}
    for p in placed:
        frame.paste(p.sprite, (p.left, p.top), p.sprite)
        mask = np.asarray(p.sprite.getchannel("A")) > 127
        drawn[p.actor.track_id] = int(mask.sum())
        x0, y0 = max(p.left, 0), max(p.top, 0)
        x1, y1 = min(p.left + p.sprite.width, w), min(p.top + p.sprite.height, h)
        if x1 > x0 and y1 > y0:
            sub = mask[y0 - p.top : y1 - p.top, x0 - p.left : x1 - p.left]
            owner[y0:y1, x0:x1][sub] = p.actor.track_id
    seen = np.bincount(owner[owner > 0].ravel(), minlength=max(drawn) + 1)
    return frame, {tid: float(seen[tid]) / max(n, 1) for tid, n in drawn.items()}


def _gt_rows(
    frame: int, placed: list[_Placed], vis: dict[int, float], size: tuple[int, int]
) -> list[tuple[int, int, str]]:
    rows = []
    for p in placed:
        w, h = p.sprite.size
        if p.left + w <= 0 or p.top + h <= 0 or p.left >= size[0] or p.top >= size[1]:
            continue  # out of the frame: not annotated
        a = p.actor
        line = f"{frame},{a.track_id},{p.left},{p.top},{w},{h},{a.flag},{a.cls},"
        rows.append((a.track_id, frame, line + f"{vis[a.track_id]:.5f}"))
    return rows


def _write_sequence(
    folder: Path,
    name: str,
    seq: int,
    *,
    seed: int,
    num_frames: int,
    num_people: int,
    frame_size: tuple[int, int],
) -> None:
    camera: _Camera = _camera(np.random.default_rng([seed, 2, 100 + seq]), frame_size)
    actors, occluder = _actors(seed, seq, num_people, frame_size)
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    rows: list[tuple[int, int, str]] = []
    for frame in range(1, num_frames + 1):
        placed = _place(actors, occluder, seed, seq, frame, num_frames, frame_size)
        image, vis = _compose(camera.scene, placed)
        image = _photograph(image, camera, np.random.default_rng([seed, 6, seq, frame]))
        write = functools.partial(image.save, format="JPEG", quality=camera.quality)
        atomic_write_stream(folder / "img1" / f"{frame:06d}.jpg", write, durable=False)
        rows.extend(_gt_rows(frame, placed, vis, frame_size))
    gt = "".join(r[2] + "\n" for r in sorted(rows))
    atomic_write_text(folder / "gt" / "gt.txt", gt, durable=False)
    atomic_write_text(
        folder / "seqinfo.ini",
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={FRAME_RATE}\nseqLength={num_frames}\n"
        f"imWidth={frame_size[0]}\nimHeight={frame_size[1]}\nimExt=.jpg\n",
        durable=False,
    )


def _write_sequences(
    partial: Path,
    num_sequences: int,
    seed: int,
    num_frames: int,
    num_people: int,
    frame_size: tuple[int, int],
) -> None:
    """``SYN-01``... under ``partial``: the first half (rounded up) in train, the rest in test."""
    num_train = num_sequences - num_sequences // 2
    for seq in range(1, num_sequences + 1):
        name = f"SYN-{seq:02d}"
        folder = partial / _SPLITS[seq > num_train] / name
        _write_sequence(
            folder,
            name,
            seq,
            seed=seed,
            num_frames=num_frames,
            num_people=num_people,
            frame_size=frame_size,
        )


def make_synthetic_mot(
    root: str | os.PathLike[str],
    *,
    num_sequences: int = 4,
    num_frames: int = 60,
    num_people: int = 6,
    seed: int = 0,
    frame_size: tuple[int, int] = (320, 240),
    overwrite: bool = False,
) -> Path:
    """Write MOTChallenge-format sequences of synthetic people that :class:`MOTChallenge` reads.

    See the module docstring for the design: occlusions (visibility below 1 in ``gt.txt``),
    ignored boxes (flag 0) and non-pedestrian classes (7 static person, 8 distractor, 9
    occluder), byte-identical for a seed.

    Args:
        root: Folder to write ``train/`` and ``test/`` into (created if needed).
        num_sequences: Sequences ``SYN-01``...; the first half (rounded up) in ``train/``.
        num_frames: Frames per sequence.
        num_people: Pedestrians per sequence (track ids ``1..num_people``).
        seed: Same seed, byte-identical files.
        frame_size: ``(width, height)`` of the frames.
        overwrite: Replace existing ``root/train`` and ``root/test`` folders written by this
            function (each lists what it holds in a manifest); one holding anything else (a
            real sequence, a user's file) is refused, naming it.

    Returns:
        ``root``.

    Raises:
        ConfigError: A count or the frame size is out of bounds.
        DatasetLayoutError: ``root/train`` or ``root/test`` exists and ``overwrite`` is False,
            or holds files this function did not write.

    Example:
        >>> root = make_synthetic_mot("data/synth-mot", seed=0)  # doctest: +SKIP
        >>> MOTChallenge(root).load().summary()  # doctest: +SKIP
    """
    _check_sizes(num_sequences, num_frames, num_people, frame_size)
    base = Path(root)
    targets = [base / split for split in _SPLITS]
    _refuse_existing(targets, overwrite)
    partial = temp_dir(base / ".synthetic-mot")
    try:
        _write_sequences(partial, num_sequences, seed, num_frames, num_people, frame_size)
        for target in targets:
            write_manifest(partial / target.name, by=_GENERATOR)
        for target in targets:
            shutil.rmtree(target, ignore_errors=True)
            (partial / target.name).rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return base


def _check_sizes(
    num_sequences: int, num_frames: int, num_people: int, frame_size: tuple[int, int]
) -> None:
    checks = {
        "num_sequences": (num_sequences, 2, 99),
        "num_frames": (num_frames, 2, 999_999),
        "num_people": (num_people, 1, 9_999),
        "frame_size[0]": (frame_size[0], 64, 4096),
        "frame_size[1]": (frame_size[1], 64, 4096),
    }
    for field, (value, low, high) in checks.items():
        if not low <= value <= high:
            raise ConfigError(f"make_synthetic_mot: {field} must be in {low}..{high}, got {value}.")


def _refuse_existing(targets: list[Path], overwrite: bool) -> None:
    if overwrite:
        refuse_unowned(targets, by=_GENERATOR, error=DatasetLayoutError)
        return
    for target in targets:
        if target.exists():
            raise DatasetLayoutError(
                f"{str(target)!r} already exists; pass overwrite=True (--overwrite) to replace "
                "it, or choose another root."
            )
