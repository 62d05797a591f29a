"""The people of the synthetic Market-1501: random appearances and how to draw them.

A :class:`Person` is what stays the same across cameras (colours, patterns, accessories,
proportions); :func:`draw_person` adds what changes with every image (pose, scale, viewpoint).
See :mod:`siamreid.data.synthetic.market` for the whole design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["HEIGHT", "RGB", "WIDTH", "Person", "draw_person", "random_colour", "random_person"]

WIDTH, HEIGHT = 64, 128
RGB = tuple[int, int, int]
_PALETTE: tuple[RGB, ...] = (
    (20, 20, 24), (235, 235, 230), (128, 128, 132), (30, 40, 110), (190, 30, 35),
    (35, 140, 60), (230, 200, 40), (240, 130, 30), (120, 50, 150), (90, 170, 220),
    (150, 90, 50), (220, 120, 170), (210, 190, 150), (70, 90, 40), (20, 120, 120),
    (110, 20, 40),
)  # fmt: skip
_SKIN: tuple[RGB, ...] = ((250, 215, 185), (225, 180, 140), (190, 140, 100), (140, 95, 60))
_HAIR: tuple[RGB, ...] = ((25, 20, 15), (90, 60, 30), (200, 170, 90), (140, 140, 140))


@dataclass(frozen=True)
class Person:
    """What identifies one person in every camera: colours, patterns, accessories, build."""

    skin: RGB
    hair: RGB
    long_hair: bool
    top: RGB
    top2: RGB
    pattern: int  # 0 solid, 1 h-stripes, 2 v-stripes, 3 checks, 4 two-tone, 5 logo
    stripe: int
    long_sleeves: bool
    bottom: RGB
    bottom_kind: int  # 0 trousers, 1 shorts, 2 skirt
    shoes: RGB
    bag: int  # 0 none, 1 backpack, 2 shoulder bag
    bag_colour: RGB
    hat: RGB | None
    height: float
    build: float
    legs: float


def random_colour(
    rng: np.random.Generator, palette: tuple[RGB, ...] = _PALETTE, shade: int = 12
) -> RGB:
    """A palette colour with a small random shade (``shade`` levels per channel)."""
    base = np.asarray(palette[int(rng.integers(len(palette)))])
    c = np.clip(base + rng.integers(-shade, shade + 1, size=3), 0, 255)
    return int(c[0]), int(c[1]), int(c[2])


def random_person(rng: np.random.Generator) -> Person:
    """A new appearance (see the module docstring of :mod:`siamreid.data.synthetic.market`)."""
    return Person(
        skin=random_colour(rng, _SKIN, 8),
        hair=random_colour(rng, _HAIR, 10),
        long_hair=bool(rng.random() < 0.35),
        top=random_colour(rng),
        top2=random_colour(rng),
        pattern=int(rng.integers(6)),
        stripe=int(rng.integers(3, 7)),
        long_sleeves=bool(rng.random() < 0.5),
        bottom=random_colour(rng),
        bottom_kind=int(rng.choice(3, p=[0.6, 0.2, 0.2])),
        shoes=random_colour(rng),
        bag=int(rng.choice(3, p=[0.4, 0.3, 0.3])),
        bag_colour=random_colour(rng),
        hat=random_colour(rng) if rng.random() < 0.25 else None,
        height=float(rng.uniform(0.84, 1.0)),
        build=float(rng.uniform(0.8, 1.2)),
        legs=float(rng.uniform(0.42, 0.52)),
    )


def _top_layer(person: Person, box: tuple[int, int, int, int], back: bool) -> Image.Image:
    """The shirt fabric over the whole image: pattern in ``top`` and ``top2``."""
    layer = Image.new("RGB", (WIDTH, HEIGHT), person.top)
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = box
    s = person.stripe
    if person.pattern == 1:
        for y in range(y0, y1, 2 * s):
            draw.rectangle((0, y, WIDTH, y + s - 1), fill=person.top2)
    elif person.pattern == 2:
        for x in range(x0, x1, 2 * s):
            draw.rectangle((x, 0, x + s - 1, HEIGHT), fill=person.top2)
    elif person.pattern == 3:
        for y in range(y0, y1, s):
            for x in range(x0 + ((y - y0) // s % 2) * s, x1, 2 * s):
                draw.rectangle((x, y, x + s - 1, y + s - 1), fill=person.top2)
    elif person.pattern == 4:
        draw.rectangle((0, (y0 + y1) // 2, WIDTH, HEIGHT), fill=person.top2)
    elif person.pattern == 5 and not back:
        cx, cy, r = (x0 + x1) // 2, y0 + (y1 - y0) // 3, max((x1 - x0) // 5, 2)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=person.top2)
    return layer


@dataclass(frozen=True)
class _Body:
    """Where one drawing of a person falls in the image (pixels)."""

    cx: float
    top: float
    height: float
    neck: float
    hip: float
    foot: float
    shoulder: float  # half widths
    waist: float
    arm: int  # limb widths
    leg: int


def _body(person: Person, rng: np.random.Generator, top: float) -> _Body:
    hb = HEIGHT * person.height * rng.uniform(0.85, 1.0)
    return _Body(
        cx=WIDTH / 2 + rng.uniform(-4, 4),
        top=top,
        height=hb,
        neck=top + 0.14 * hb,
        hip=top + hb * (1 - person.legs),
        foot=top + hb,
        shoulder=0.13 * hb * person.build,
        waist=0.095 * hb * person.build,
        arm=max(int(0.065 * hb * person.build), 3),
        leg=max(int(0.085 * hb * person.build), 3),
    )


def _draw_legs(draw: ImageDraw.ImageDraw, person: Person, b: _Body, stride: float) -> None:
    knee = b.hip + (b.foot - b.hip) * 0.45
    for side in (-1, 1):
        hx = b.cx + side * b.waist / 2
        fx = hx + side * stride
        trousers = person.bottom if person.bottom_kind == 0 else person.skin
        draw.line((hx, b.hip, fx, b.foot), fill=trousers, width=b.leg)
        if person.bottom_kind == 1:  # shorts
            kx = hx + (fx - hx) * 0.45
            draw.line((hx, b.hip, kx, knee), fill=person.bottom, width=b.leg)
        draw.ellipse(
            (fx - b.leg * 0.7, b.foot - 3, fx + b.leg * 0.9, b.foot + 2), fill=person.shoes
        )
    if person.bottom_kind == 2:  # skirt
        hem, w = b.hip + (b.foot - b.hip) * 0.5, b.waist
        corners = [
            (b.cx - w, b.hip),
            (b.cx + w, b.hip),
            (b.cx + w * 1.6, hem),
            (b.cx - w * 1.6, hem),
        ]
        draw.polygon(corners, fill=person.bottom)


def _draw_torso(img: Image.Image, person: Person, b: _Body, back: bool) -> None:
    draw = ImageDraw.Draw(img)
    x0, x1 = b.cx - b.shoulder, b.cx + b.shoulder
    torso = [
        (x0, b.neck),
        (x1, b.neck),
        (b.cx + b.waist * 1.1, b.hip + 2),
        (b.cx - b.waist * 1.1, b.hip + 2),
    ]
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(mask).polygon(torso, fill=255)
    img.paste(
        _top_layer(person, (int(x0), int(b.neck), int(x1) + 1, int(b.hip) + 3), back), mask=mask
    )
    if person.bag == 1 and back:  # backpack
        inset = b.shoulder * 0.3
        draw.rectangle(
            (x0 + inset, b.neck + 0.05 * b.height, x1 - inset, b.hip - 0.03 * b.height),
            fill=person.bag_colour,
        )
    elif person.bag == 1:  # its straps, seen from the front
        for side in (-1, 1):
            x = b.cx + side * b.shoulder * 0.55
            draw.line((x, b.neck, x - side, b.hip - 4), fill=person.bag_colour, width=2)


def _draw_arms(
    draw: ImageDraw.ImageDraw, person: Person, b: _Body, swing: float, back: bool
) -> None:
    for side, move in ((-1, swing), (1, -swing)):
        sx, sy = b.cx + side * (b.shoulder + b.arm / 3), b.neck + b.arm / 2
        hx, hy = sx + side * 0.02 * b.height + move, b.hip + 0.03 * b.height
        sleeve = person.top if person.long_sleeves else person.skin
        draw.line((sx, sy, hx, hy), fill=sleeve, width=b.arm)
        if not person.long_sleeves:
            draw.line((sx, sy, (sx + hx) / 2, (sy + hy) / 2), fill=person.top, width=b.arm)
        draw.ellipse((hx - b.arm / 2, hy - 1, hx + b.arm / 2, hy + b.arm), fill=person.skin)
    if person.bag == 2:  # shoulder bag: strap across the chest, bag at the hip
        side = -1 if back else 1
        near, far = b.cx + side * b.waist * 1.1, b.cx + side * (b.waist * 1.1 + 0.1 * b.height)
        draw.line((b.cx - side * b.shoulder, b.neck, near, b.hip), fill=person.bag_colour, width=2)
        draw.rectangle(
            (min(near, far), b.hip - 2, max(near, far), b.hip + 0.09 * b.height),
            fill=person.bag_colour,
        )


def _draw_head(draw: ImageDraw.ImageDraw, person: Person, b: _Body, back: bool) -> None:
    head = b.neck - b.top - 0.01 * b.height
    x0, x1 = b.cx - head * 0.4, b.cx + head * 0.4
    if person.long_hair and back:
        draw.rectangle(
            (b.cx - head * 0.45, b.top + head * 0.3, b.cx + head * 0.45, b.neck + 0.08 * b.height),
            fill=person.hair,
        )
    draw.ellipse((x0, b.top, x1, b.top + head), fill=person.hair if back else person.skin)
    if not back:
        draw.chord((x0, b.top, x1, b.top + head * 0.8), 180, 360, fill=person.hair)
    if person.hat is not None:
        draw.rectangle((x0 - 1, b.top - 1, x1 + 1, b.top + head * 0.3), fill=person.hat)


def draw_person(
    img: Image.Image, person: Person, rng: np.random.Generator, back: bool, top: float
) -> None:
    """Draw ``person`` walking, head at ``top``, seen from the front or the ``back``."""
    b = _body(person, rng, top)
    stride, swing = rng.uniform(-1, 1) * 0.12 * b.height, rng.uniform(-1, 1) * 0.08 * b.height
    draw = ImageDraw.Draw(img)
    _draw_legs(draw, person, b, stride)
    _draw_torso(img, person, b, back)
    _draw_arms(draw, person, b, swing, back)
    _draw_head(draw, person, b, back)
