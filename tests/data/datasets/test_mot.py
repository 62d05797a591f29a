"""MOTChallenge adapter: strict parsing, box filters, clipping, identities, cameras, the query /
gallery time rule, the crop cache and layout errors, on tiny hand-written sequences."""

from __future__ import annotations

import os
import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from siamreid.data.datasets import _mot_crops
from siamreid.data.datasets._mot_crops import MARKER, Crop
from siamreid.data.datasets._mot_format import MOTBox, parse_gt, parse_gt_line, parse_seqinfo
from siamreid.data.datasets.mot import MOTChallenge, _queries
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.data.synthetic.mot import make_synthetic_mot
from siamreid.errors import ConfigError, DatasetLayoutError

SIZE = (100, 80)  # frame width, height


def _frame(frame: int) -> Image.Image:
    """Red encodes x, green encodes y: a crop's corner tells where it was cut."""
    w, h = SIZE
    x, y = np.meshgrid(np.arange(w) * 2, np.arange(h) * 3)
    rgb = np.stack([x, y, np.full_like(x, frame * 10)], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, mode="RGB")


def _sequence(
    parent: Path, name: str, rows: Sequence[str], *, frames: int = 10, gt: bool = True
) -> Path:
    folder = parent / name
    (folder / "img1").mkdir(parents=True)
    for f in range(1, frames + 1):
        _frame(f).save(folder / "img1" / f"{f:06d}.png")
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={frames}\n"
        f"imWidth={SIZE[0]}\nimHeight={SIZE[1]}\nimExt=.png\n"
    )
    if gt:
        (folder / "gt").mkdir()
        (folder / "gt" / "gt.txt").write_text("".join(r + "\n" for r in rows))
    return folder


def _track(
    track: int, frames: Sequence[int], box: str = "10,10,20,40", tail: str = "1,1,1"
) -> list[str]:
    return [f"{f},{track},{box},{tail}" for f in frames]


def _keys(samples: Sequence[ReidSample]) -> set[tuple[int, int]]:
    """(track id, frame) of each crop, read from its file name."""
    return {(int(s.path.stem[:6]), int(s.path.stem[7:])) for s in samples}


def _frame_of(sample: ReidSample) -> int:
    return int(sample.path.stem[7:])


@pytest.fixture(scope="module")
def synthetic_mot_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small synthetic sequences (24 frames, 3 people each)."""
    return make_synthetic_mot(
        tmp_path_factory.mktemp("synthetic_mot"), num_sequences=2, num_frames=24, num_people=3
    )


@pytest.fixture
def two_windows(tmp_path: Path) -> Path:
    """A root with train sequence A and test sequence B (tracks 1, 2 over 20 frames)."""
    rows = _track(1, range(1, 21)) + _track(2, range(1, 21), box="50,20,20,40")
    _sequence(tmp_path / "train", "A", rows, frames=20)
    _sequence(tmp_path / "train", "B", rows, frames=20)
    return tmp_path


def _load(root: Path, **kwargs: object) -> ReidSplits:
    options: dict[str, object] = {
        "min_height": 5,
        "frame_step": 1,
        "query_window": 10,
        "min_gap": 2,
        "test_sequences": ["B"],
    }
    options.update(kwargs)
    return MOTChallenge(root, **options).load()  # type: ignore[arg-type]


# --- gt.txt and seqinfo.ini -------------------------------------------------------------------

_boxes = st.builds(
    MOTBox,
    frame=st.integers(1, 10**6),
    track_id=st.integers(1, 10**6),
    left=st.integers(-500, 5000).map(float),
    top=st.integers(-500, 5000).map(float),
    width=st.integers(1, 2000).map(float),
    height=st.integers(1, 2000).map(float),
    flag=st.integers(0, 1),
    cls=st.integers(1, 12),
    visibility=st.integers(0, 100).map(lambda v: v / 100),
)


def _format(box: MOTBox, *, decimals: bool) -> str:
    coords = [box.left, box.top, box.width, box.height]
    text = [f"{c:.1f}" if decimals else str(int(c)) for c in coords]
    return ",".join(
        [str(box.frame), str(box.track_id), *text, str(box.flag), str(box.cls), str(box.visibility)]
    )


@settings(max_examples=60, deadline=None)
@given(box=_boxes, decimals=st.booleans(), spaces=st.booleans())
def test_gt_line_round_trips(box: MOTBox, decimals: bool, spaces: bool) -> None:
    line = _format(box, decimals=decimals)
    assert parse_gt_line(line.replace(",", ", ") if spaces else line) == box


_BAD_FIELDS = {
    0: ["0", "-1", "1.5", "x", ""],  # frame: integer >= 1
    1: ["0", "2.0", "id"],  # track id
    2: ["nan", "inf", "left"],  # left
    4: ["0", "-3", "w"],  # width > 0
    5: ["0", "-1.5"],  # height > 0
    6: ["2", "-1", "yes"],  # flag 0/1
    7: ["0", "one"],  # class >= 1
    8: ["1.01", "-0.1", "nan", "v"],  # visibility in [0, 1]
}


@settings(max_examples=60, deadline=None)
@given(
    box=_boxes,
    where=st.sampled_from(sorted(_BAD_FIELDS)),
    pick=st.integers(0, 10),
    line_number=st.integers(1, 5),
)
def test_a_malformed_gt_line_names_file_line_and_field(
    tmp_path_factory: pytest.TempPathFactory, box: MOTBox, where: int, pick: int, line_number: int
) -> None:
    fields = _format(box, decimals=False).split(",")
    choices = _BAD_FIELDS[where]
    fields[where] = choices[pick % len(choices)]
    good = [f"{i},1,0,0,5,5,1,1,1" for i in range(1, line_number)]
    path = tmp_path_factory.mktemp("gt") / "gt.txt"
    path.write_text("\n".join([*good, ",".join(fields)]) + "\n")
    with pytest.raises(DatasetLayoutError) as err:
        parse_gt(path)
    message = str(err.value)
    assert str(path) in message
    assert f"line {line_number}:" in message
    assert "frame,id,left,top,width,height,flag,class,visibility" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1,1,0,0,5,5,1,1", "found 8 fields"),
        ("1,1,0,0,5,5,1,1,1,-1", "found 10 fields"),
        ("1;1;0;0;5;5;1;1;1", "found 1 fields"),
    ],
)
def test_gt_needs_nine_fields(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "gt.txt"
    path.write_text(f"1,1,0,0,5,5,1,1,1\n\n{line}\n")
    with pytest.raises(DatasetLayoutError, match=f"line 3: {expected}"):
        parse_gt(path)


def test_gt_rejects_a_frame_past_the_sequence_and_a_repeated_box(tmp_path: Path) -> None:
    path = tmp_path / "gt.txt"
    path.write_text("1,1,0,0,5,5,1,1,1\n11,1,0,0,5,5,1,1,1\n")
    with pytest.raises(DatasetLayoutError, match="line 2: frame 11 lies beyond seqLength=10"):
        parse_gt(path, max_frame=10)
    path.write_text("1,1,0,0,5,5,1,1,1\n2,1,0,0,5,5,1,1,1\n1,1,3,3,5,5,1,1,1\n")
    with pytest.raises(DatasetLayoutError, match="line 3: track 1 already has a box in frame 1"):
        parse_gt(path)


def test_seqinfo_is_read_and_its_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "seqinfo.ini"
    path.write_text(
        "; comment\n[Sequence]\nname = MOT17-02-DPM\nimDir=img1\nframeRate=30\nseqLength=600\n"
        "imWidth=1920\nimHeight=1080\nimExt=.jpg\n"
    )
    info = parse_seqinfo(path)
    assert (info.name, info.im_dir, info.length, info.width, info.height, info.im_ext) == (
        "MOT17-02-DPM", "img1", 600, 1920, 1080, ".jpg",
    )  # fmt: skip
    path.write_text("[Sequence]\nimDir=img1\nseqLength 600\n")
    with pytest.raises(DatasetLayoutError, match=r"seqinfo.ini, line 3: 'seqLength 600'"):
        parse_seqinfo(path)
    path.write_text("seqLength=600\n")
    with pytest.raises(DatasetLayoutError, match=r"line 1: .*before any \[Sequence\] header"):
        parse_seqinfo(path)
    path.write_text("[Sequence]\nimDir=img1\nseqLength=600\nimWidth=1920\nimExt=.jpg\n")
    with pytest.raises(DatasetLayoutError, match="lacks imHeight"):
        parse_seqinfo(path)
    path.write_text("[Sequence]\nimDir=img1\nseqLength=6x\nimWidth=1\nimHeight=1\nimExt=.jpg\n")
    with pytest.raises(DatasetLayoutError, match="'seqLength' is '6x', not an integer"):
        parse_seqinfo(path)


# --- filters, clipping, frame step ------------------------------------------------------------


def test_each_filter_drops_what_it_should(tmp_path: Path) -> None:
    rows = [
        "1,1,10,10,20,40,1,1,1",  # kept
        "1,2,10,10,20,40,0,1,1",  # flag 0: ignored box
        "1,3,10,10,20,40,1,7,1",  # class 7 (static person): not a pedestrian
        "1,4,10,10,20,40,1,1,0.29",  # visibility below 0.3
        "1,5,10,10,20,40,1,1,0.3",  # visibility at the threshold: kept
        "1,6,10,10,20,19,1,1,1",  # lower than min_height 20
        "1,7,10,10,20,20,1,1,1",  # exactly min_height: kept
    ]
    _sequence(tmp_path, "A", rows)
    _sequence(tmp_path, "B", _track(1, [1, 13]), frames=13)
    splits = _load(tmp_path, min_height=20, query_window=4, min_gap=1)
    assert _keys(splits.train) == {(1, 1), (5, 1), (7, 1)}
    splits = _load(tmp_path, min_height=20, query_window=4, min_gap=1, classes=(1, 7))
    assert _keys(splits.train) == {(1, 1), (3, 1), (5, 1), (7, 1)}
    splits = _load(tmp_path, min_height=20, query_window=4, min_gap=1, min_visibility=0.0)
    assert _keys(splits.train) == {(1, 1), (4, 1), (5, 1), (7, 1)}


def test_boxes_are_clipped_to_the_image(tmp_path: Path) -> None:
    w, h = SIZE
    rows = [
        "1,1,-10,-5,30,40,1,1,1",  # past the top-left corner: 20 x 35 left
        f"1,2,{w - 15},{h - 30},30,50,1,1,1",  # past the bottom-right corner: 15 x 30 left
        f"1,3,10,{h - 8},20,40,1,1,1",  # 40 high, but only 8 inside: below min_height
        f"1,4,{w + 5},10,20,40,1,1,1",  # wholly outside
    ]
    _sequence(tmp_path, "A", rows)
    _sequence(tmp_path, "B", _track(1, [1, 13]), frames=13)
    splits = _load(tmp_path, min_height=10, query_window=4, min_gap=1)
    crops = {int(s.path.stem[:6]): s.path for s in splits.train}
    assert sorted(crops) == [1, 2]
    for track, (x0, y0, size) in {1: (0, 0, (20, 35)), 2: (w - 15, h - 30, (15, 30))}.items():
        with Image.open(crops[track]) as img:
            assert img.size == size
            red, green, _ = np.asarray(img.convert("RGB"), dtype=int)[0, 0]
        # the frame encodes x as red / 2 and y as green / 3 (JPEG moves them a little)
        assert abs(red - 2 * x0) <= 6
        assert abs(green - 3 * y0) <= 6


def test_frame_step_keeps_frames_one_plus_multiples(tmp_path: Path) -> None:
    _sequence(tmp_path, "A", _track(1, range(1, 11)))
    _sequence(tmp_path, "B", _track(1, [1, 13]), frames=13)
    for step, frames in ((1, set(range(1, 11))), (3, {1, 4, 7, 10}), (4, {1, 5, 9})):
        splits = _load(tmp_path, frame_step=step, query_window=4, min_gap=1)
        assert {f for _, f in _keys(splits.train)} == frames


# --- identities, cameras, the time rule --------------------------------------------------------


def test_identities_are_per_sequence_and_each_train_sequence_is_one_camera(
    tmp_path: Path,
) -> None:
    rows = _track(1, range(1, 21)) + _track(2, range(1, 21), box="50,20,20,40")
    for name in ("A", "B", "C", "D"):
        _sequence(tmp_path / "train", name, rows, frames=20)
    splits = _load(tmp_path, test_sequences=["C", "D"])
    tracks_of = defaultdict(set)
    cams_of = defaultdict(set)
    for s in splits.train:
        tracks_of[s.pid].add((s.path.parent.name.split("-")[0], int(s.path.stem[:6])))
        cams_of[s.path.parent.name.split("-")[0]].add(s.camid)
    assert sorted(tracks_of) == [0, 1, 2, 3]  # 2 sequences x 2 tracks, relabelled
    assert all(len(v) == 1 for v in tracks_of.values())
    assert cams_of == {"A": {0}, "B": {1}}
    test_tracks = defaultdict(set)
    for s in splits.query + splits.gallery:
        test_tracks[s.pid].add((s.path.parent.name.split("-")[0], int(s.path.stem[:6])))
    assert sorted(test_tracks) == [1, 2, 3, 4]
    assert all(len(v) == 1 for v in test_tracks.values())


def _check_time_rule(splits: ReidSplits, gap: int) -> None:
    """Every query has a match in another pseudo-camera, and none closer than ``gap`` frames."""
    assert splits.query
    seq_of_cam = {}
    for s in splits.query + splits.gallery:  # a pseudo-camera lies inside one sequence
        assert seq_of_cam.setdefault(s.camid, s.path.parent) == s.path.parent
    per_pid_cam = defaultdict(int)
    for q in splits.query:
        per_pid_cam[(q.pid, q.camid)] += 1
        matches = [g for g in splits.gallery if g.pid == q.pid and g.camid != q.camid]
        assert matches, f"query {q.path} has no match in another window"
        assert min(abs(_frame_of(g) - _frame_of(q)) for g in matches) >= gap
    assert max(per_pid_cam.values()) == 1


def test_queries_and_gallery_follow_the_time_rule(two_windows: Path) -> None:
    splits = _load(two_windows, query_window=10, min_gap=3)
    _check_time_rule(splits, 3)
    # windows 1-10 and 11-20; queries nearest each middle, >= 3 frames from the other window
    assert sorted((q.pid, _frame_of(q), q.camid) for q in splits.query) == [
        (1, 5, 0), (1, 15, 1), (2, 5, 0), (2, 15, 1),
    ]  # fmt: skip
    assert {g.camid for g in splits.gallery} == {0, 1}
    assert len(splits.query) + len(splits.gallery) == 40


@settings(max_examples=80, deadline=None)
@given(
    tracks=st.lists(st.lists(st.integers(1, 120), min_size=1, max_size=25), min_size=1, max_size=5),
    gap=st.integers(1, 8),
    extra=st.integers(0, 20),
)
def test_time_rule_invariants_on_random_tracks(
    tracks: list[list[int]], gap: int, extra: int
) -> None:
    window = 2 * gap + extra
    crops = [Crop(f"{t:06d}_{f:06d}.jpg", t, f) for t, fs in enumerate(tracks, 1) for f in set(fs)]
    chosen = _queries(crops, window, gap)
    assert chosen <= set(crops)
    seen = set()
    for q in chosen:
        key = (q.track_id, (q.frame - 1) // window)
        assert key not in seen  # one query per identity and window
        seen.add(key)
        others = [
            c
            for c in crops
            if c.track_id == q.track_id
            and c not in chosen
            and (c.frame - 1) // window != (q.frame - 1) // window
        ]
        assert others
        assert min(abs(c.frame - q.frame) for c in others) >= gap


def test_the_time_rule_holds_on_synthetic_sequences(
    synthetic_mot_root: Path, tmp_path: Path
) -> None:
    splits = MOTChallenge(
        synthetic_mot_root, cache_dir=tmp_path, frame_step=2, query_window=8, min_gap=3
    ).load()
    _check_time_rule(splits, 3)


# --- train / test split of sequences ----------------------------------------------------------


def test_seeded_split_is_reproducible_and_covers_every_sequence(tmp_path: Path) -> None:
    names = [f"S{i}" for i in range(7)]
    splits = {seed: MOTChallenge(tmp_path, seed=seed).split(names) for seed in range(6)}
    for train, test in splits.values():
        assert sorted(train + test) == names
        assert len(test) == 4
    assert splits[0] == MOTChallenge(tmp_path, split_seed=0).split(names)
    assert len({tuple(test) for _, test in splits.values()}) > 1
    train, test = MOTChallenge(tmp_path, test_fraction=0.2).split(names)
    assert len(test) == 1
    assert MOTChallenge(tmp_path).split(["A", "B"])[1] in (["A"], ["B"])


def test_mot17_detector_copies_are_read_once_and_named_by_either_name(tmp_path: Path) -> None:
    rows = _track(1, range(1, 21)) + _track(2, range(1, 21), box="50,20,20,40")
    for name in ("MOT17-02-DPM", "MOT17-02-FRCNN", "MOT17-02-SDP", "MOT17-04-DPM", "MOT17-04-SDP"):
        _sequence(tmp_path / "train", name, rows, frames=20)
    _sequence(tmp_path / "test", "MOT17-01-DPM", [], frames=2, gt=False)
    splits = _load(tmp_path, test_sequences=["MOT17-04"])
    assert {s.path.parent.name.split("-")[1] for s in splits.train} == {"02"}
    assert {s.path.parent.name.rsplit("-", 1)[0] for s in splits.query} == {"MOT17-04-DPM"}
    notes = " ".join(splits.notes)
    assert "MOT17-02-FRCNN, MOT17-02-SDP, MOT17-04-SDP repeat the frames" in notes
    assert "MOT17-01-DPM" in notes
    assert "without gt/gt.txt" in notes
    assert _keys(_load(tmp_path, test_sequences=["MOT17-04-SDP"]).query) == _keys(splits.query)


# --- the crop cache ---------------------------------------------------------------------------


def _mtimes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


def test_a_second_load_reuses_the_crops(two_windows: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _load(two_windows)
    cache = two_windows / ".siamreid-crops"
    before = _mtimes(cache)
    assert sum(name.endswith(MARKER) for name in before) == 2

    def no_cut(*args: object) -> list[Crop]:
        raise AssertionError("crops were cut again")

    monkeypatch.setattr(_mot_crops, "_cut", no_cut)
    assert _load(two_windows) == first
    assert _mtimes(cache) == before


def test_a_changed_setting_or_annotation_cuts_anew(
    two_windows: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = tmp_path_factory.mktemp("cache")
    _load(two_windows, cache_dir=cache)
    folders = {p.name for p in cache.iterdir() if not p.name.startswith(".")}
    assert len(folders) == 2
    _load(two_windows, cache_dir=cache, min_height=30)
    after_setting = {p.name for p in cache.iterdir() if not p.name.startswith(".")}
    assert len(after_setting) == 4
    assert folders < after_setting
    gt = two_windows / "train" / "A" / "gt" / "gt.txt"
    gt.write_text(gt.read_text().replace("10,10,20,40", "12,10,20,40"))
    splits = _load(two_windows, cache_dir=cache, min_height=30)
    assert len({p.name for p in cache.iterdir() if not p.name.startswith(".")}) == 5
    with Image.open(next(s.path for s in splits.train if s.path.stem.startswith("000001"))) as img:
        red = np.asarray(img.convert("RGB"), dtype=int)[0, 0, 0]
    assert abs(red - 2 * 12) <= 6  # cut from the new box


def test_an_interrupted_cut_is_redone(two_windows: Path) -> None:
    first = _load(two_windows)
    folder = first.train[0].path.parent
    (folder / MARKER).unlink()  # killed before the marker: the folder must not be trusted
    first.train[0].path.write_bytes(b"half a jpeg")
    stale = folder.parent / f".{folder.name}.tmp-abc123"  # a temporary folder left by a kill
    stale.mkdir()
    (stale / "000001_000001.jpg").write_bytes(b"partial")
    again = _load(two_windows)
    assert again == first
    assert (folder / MARKER).is_file()
    assert not stale.exists()
    with Image.open(again.train[0].path) as img:
        img.load()


# --- layout and configuration errors -----------------------------------------------------------


def test_layout_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(
        DatasetLayoutError, match=f"{re.escape(str(missing))}.*does not exist.*motchallenge.net"
    ):
        MOTChallenge(missing).load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DatasetLayoutError, match=r"No MOTChallenge sequence folder.*siamreid synth --mot"
    ):
        MOTChallenge(tmp_path / "empty").load()
    only_test = tmp_path / "mot17"
    _sequence(only_test / "test", "MOT17-01-DPM", [], frames=2, gt=False)
    with pytest.raises(DatasetLayoutError, match=r"No sequence with ground truth.*MOT17-01-DPM"):
        MOTChallenge(only_test).load()
    one = tmp_path / "one"
    _sequence(one, "A", _track(1, [1]))
    with pytest.raises(
        DatasetLayoutError, match=r"Only one sequence.*train and test need one each"
    ):
        MOTChallenge(one).load()
    with pytest.raises(DatasetLayoutError, match=r"test_sequences names 'Z'.*known: A"):
        MOTChallenge(one, test_sequences=["Z"]).load()
    with pytest.raises(DatasetLayoutError, match="leave at least one for training"):
        MOTChallenge(one, test_sequences=["A"]).load()


def test_sequence_file_errors_name_the_file(tmp_path: Path) -> None:
    a = _sequence(tmp_path, "A", _track(1, range(1, 11)))
    _sequence(tmp_path, "B", _track(1, [1, 13]), frames=13)
    (a / "seqinfo.ini").unlink()
    with pytest.raises(DatasetLayoutError, match=f"{re.escape(str(a / 'seqinfo.ini'))}.*missing"):
        _load(tmp_path)
    shutil.rmtree(a)
    a = _sequence(tmp_path, "C", [*_track(1, range(1, 11)), "3,2,0,0,5,5,1,1"])
    with pytest.raises(
        DatasetLayoutError, match=f"{re.escape(str(a / 'gt' / 'gt.txt'))}, line 11: found 8 fields"
    ):
        _load(tmp_path, test_sequences=["B"])
    (a / "gt" / "gt.txt").write_text("".join(r + "\n" for r in _track(1, range(1, 11))))
    (a / "img1" / "000004.png").unlink()
    with pytest.raises(
        DatasetLayoutError, match=r"frame 4, but .*img1.* holds no image 000004.png"
    ):
        _load(tmp_path, test_sequences=["B"])
    assert not any((tmp_path / ".siamreid-crops").glob("C-*"))  # nothing half-cut left behind


def test_filters_that_leave_nothing_say_so(two_windows: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"No training crop.*passes the filters"):
        _load(two_windows, min_height=100)
    with pytest.raises(DatasetLayoutError, match=r"No query.*Lower query_window or min_gap"):
        _load(two_windows, query_window=40, min_gap=3)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"classes": ()}, "classes"),
        ({"min_visibility": 1.5}, "min_visibility"),
        ({"min_height": 0}, "min_height"),
        ({"frame_step": 0}, "frame_step"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"min_gap": 0}, "min_gap"),
        ({"query_window": 5, "min_gap": 3}, "query_window"),
        ({"seed": 1, "split_seed": 2}, "seed"),
    ],
)
def test_settings_are_checked(tmp_path: Path, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        MOTChallenge(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_default_cache_lies_next_to_the_data(tmp_path: Path) -> None:
    assert MOTChallenge(tmp_path).cache_dir == tmp_path / ".siamreid-crops"
    assert MOTChallenge(tmp_path, cache_dir=os.fspath(tmp_path / "c")).cache_dir == tmp_path / "c"


def test_a_replaced_frame_cuts_anew(two_windows: Path) -> None:
    first = _load(two_windows)
    crop = next(s.path for s in first.train if s.path.stem == "000001_000001")
    frame = two_windows / "train" / "A" / "img1" / "000001.png"
    replaced = np.asarray(_frame(1)).copy()
    replaced[..., 2] = 255  # blue: not what frame 1 held
    Image.fromarray(replaced, mode="RGB").save(frame)
    os.utime(frame, ns=(frame.stat().st_atime_ns, frame.stat().st_mtime_ns + 10**9))
    again = _load(two_windows)
    new_crop = next(s.path for s in again.train if s.path.stem == "000001_000001")
    assert new_crop != crop  # another cache folder
    with Image.open(new_crop) as img:
        assert np.asarray(img.convert("RGB"), dtype=int)[..., 2].mean() > 200


@pytest.mark.parametrize("im_dir", ["../../other/img1", "ABS"])
def test_an_image_folder_outside_the_sequence_is_refused_with_its_line(
    two_windows: Path, im_dir: str
) -> None:
    other = _sequence(two_windows, "other", [], frames=20, gt=False)  # frames to be taken
    ini = two_windows / "train" / "A" / "seqinfo.ini"
    target = str(other / "img1") if im_dir == "ABS" else im_dir
    ini.write_text(ini.read_text().replace("imDir=img1", f"imDir={target}"))
    with pytest.raises(DatasetLayoutError) as info:
        _load(two_windows)
    message = str(info.value)
    assert f"{ini}, line 3 (imDir): {target!r}" in message
    assert "imDir=img1" in message
