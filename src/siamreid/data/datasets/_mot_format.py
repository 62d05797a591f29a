"""The MOTChallenge files, read strictly: ``gt/gt.txt`` rows and ``seqinfo.ini``.

``gt.txt`` (MOT16/17/20, DanceTrack) holds one box per line,
``frame,id,left,top,width,height,flag,class,visibility``: frame and track id are integers from 1,
the box is in pixels (integers or decimals; it may extend past the image), ``flag`` is 1 for a box
to consider and 0 for one to ignore, ``class`` is the MOT17 class (1 pedestrian, 2 person on a
vehicle, 7 static person, 8 distractor, 12 reflection...) and ``visibility`` the visible share of
the box in ``[0, 1]``. ``seqinfo.ini`` is a ``[Sequence]`` section of ``key=value`` lines giving
``imDir``, ``seqLength``, ``imWidth``, ``imHeight`` and ``imExt``. Any other line is an error that
names the file, the line number and what was expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from siamreid._paths import resolve_inside
from siamreid.errors import DatasetLayoutError, InputError

__all__ = ["GT_FIELDS", "MOTBox", "SeqInfo", "parse_gt", "parse_gt_line", "parse_seqinfo"]

GT_FIELDS = ("frame", "id", "left", "top", "width", "height", "flag", "class", "visibility")
_EXPECTED = (
    "expected 9 comma-separated fields frame,id,left,top,width,height,flag,class,visibility "
    "(e.g. 1,3,912,484,97,109,1,1,0.86)"
)


@dataclass(frozen=True)
class MOTBox:
    """One ``gt.txt`` row: a track's box in one frame."""

    frame: int
    track_id: int
    left: float
    top: float
    width: float
    height: float
    flag: int
    cls: int
    visibility: float


@dataclass(frozen=True)
class SeqInfo:
    """What ``seqinfo.ini`` says about a sequence."""

    name: str
    im_dir: str
    frame_rate: float | None
    length: int
    width: int
    height: int
    im_ext: str


def _int(text: str, name: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"field {name!r} is {text!r}, not an integer") from None
    if value < low:
        raise InputError(f"field {name!r} is {value}, expected >= {low}")
    return value


def _float(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"field {name!r} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise InputError(f"field {name!r} is {text!r}, not a finite number")
    return value


def parse_gt_line(line: str) -> MOTBox:
    """One ``gt.txt`` row.

    Raises:
        ValueError: The row does not have the 9 fields, or a field is out of range (the message
            names the field; :func:`parse_gt` adds the file and line number).
    """
    fields = [f.strip() for f in line.split(",")]
    if len(fields) != len(GT_FIELDS):
        raise InputError(f"found {len(fields)} fields, {_EXPECTED}")
    width, height = _float(fields[4], "width"), _float(fields[5], "height")
    if width <= 0 or height <= 0:
        raise InputError(f"box size {fields[4]}x{fields[5]} is not positive")
    flag = _int(fields[6], "flag", 0)
    if flag > 1:
        raise InputError(f"field 'flag' is {flag}, expected 0 (ignore) or 1 (consider)")
    visibility = _float(fields[8], "visibility")
    if not 0.0 <= visibility <= 1.0:
        raise InputError(f"field 'visibility' is {visibility}, expected a value in [0, 1]")
    return MOTBox(
        frame=_int(fields[0], "frame", 1),
        track_id=_int(fields[1], "id", 1),
        left=_float(fields[2], "left"),
        top=_float(fields[3], "top"),
        width=width,
        height=height,
        flag=flag,
        cls=_int(fields[7], "class", 1),
        visibility=visibility,
    )


def parse_gt(path: Path, *, max_frame: int | None = None) -> list[MOTBox]:
    """Every row of a ``gt.txt`` file (blank lines skipped), in file order.

    Args:
        path: The ``gt.txt`` file.
        max_frame: The sequence length; a row beyond it is an error.

    Raises:
        DatasetLayoutError: A line does not parse, a frame lies beyond ``max_frame``, or a track
            has two boxes in one frame; the message names the file and the line.
    """
    boxes: list[MOTBox] = []
    first_line: dict[tuple[int, int], int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            box = parse_gt_line(line)
            if max_frame is not None and box.frame > max_frame:
                raise InputError(f"frame {box.frame} lies beyond seqLength={max_frame}")
            seen = first_line.setdefault((box.frame, box.track_id), number)
            if seen != number:
                raise InputError(f"track {box.track_id} already has a box in frame {box.frame}")
        except ValueError as err:
            raise DatasetLayoutError(
                f"{path!s}, line {number}: {err} (line: {line.strip()[:80]!r}). Fix or remove "
                "the line; MOTChallenge gt.txt rows read frame,id,left,top,width,height,flag,"
                "class,visibility."
            ) from None
        boxes.append(box)
    return boxes


_SEQINFO_INTS = ("seqLength", "imWidth", "imHeight")
_SEQINFO_KEYS = ("imDir", *_SEQINFO_INTS, "imExt")


def parse_seqinfo(path: Path) -> SeqInfo:
    """A ``seqinfo.ini`` file's ``[Sequence]`` section.

    Raises:
        DatasetLayoutError: The file is missing, a line is neither ``[Section]``, ``key=value``,
            a comment nor blank, a required key is missing or not a positive integer, or
            ``imDir`` leaves the sequence folder (absolute, or ``..``).
    """
    if not path.is_file():
        raise DatasetLayoutError(
            f"{str(path)!r} is missing; every MOTChallenge sequence folder holds a seqinfo.ini "
            "with a [Sequence] section (imDir, seqLength, imWidth, imHeight, imExt)."
        )
    sections, lines = _ini_sections(path)
    values = sections.get("Sequence", {})
    missing = [key for key in _SEQINFO_KEYS if key not in values]
    if missing:
        raise DatasetLayoutError(
            f"{path!s}: section [Sequence] lacks {', '.join(missing)}; expected keys "
            f"{', '.join(_SEQINFO_KEYS)}."
        )
    ints, frame_rate = _seqinfo_numbers(path, values)
    resolve_inside(
        path.parent,
        values["imDir"],
        where=f"{path!s}, line {lines[('Sequence', 'imDir')]} (imDir)",
        fix="imDir names the sequence's own image folder, e.g. 'imDir=img1'; fix the line.",
    )
    ext = values["imExt"]
    return SeqInfo(
        name=values.get("name", path.parent.name),
        im_dir=values["imDir"],
        frame_rate=frame_rate,
        length=ints["seqLength"],
        width=ints["imWidth"],
        height=ints["imHeight"],
        im_ext=ext if ext.startswith(".") else "." + ext,
    )


def _ini_sections(path: Path) -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], int]]:
    """The ``key=value`` lines of an INI file by section, and the line number of each
    ``(section, key)``; anything else is refused."""
    sections: dict[str, dict[str, str]] = {}
    lines: dict[tuple[str, str], int] = {}
    current: dict[str, str] | None = None
    section = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            current = sections.setdefault(section, {})
        elif "=" in line and current is not None:
            key, value = (part.strip() for part in line.split("=", 1))
            current[key] = value
            lines[(section, key)] = number
        else:
            where = "key=value before any [Sequence] header" if "=" in line else "key=value"
            raise DatasetLayoutError(
                f"{path!s}, line {number}: {line[:80]!r} is not a [Section] header or a "
                f"{where} line; expected e.g. 'seqLength=600' under [Sequence]."
            )
    return sections, lines


def _seqinfo_numbers(path: Path, values: dict[str, str]) -> tuple[dict[str, int], float | None]:
    """The positive integers of ``[Sequence]`` and its optional frame rate."""
    ints = {}
    for key in _SEQINFO_INTS:
        try:
            ints[key] = _int(values[key], key, 1)
        except ValueError as err:
            raise DatasetLayoutError(f"{path!s}: {err} (a positive integer).") from None
    rate = values.get("frameRate")
    try:
        frame_rate = None if rate is None else _float(rate, "frameRate")
    except ValueError as err:
        raise DatasetLayoutError(f"{path!s}: {err}.") from None
    return ints, frame_rate
