"""Synthetic Market-1501: readable by the real adapter, counts, protocol, determinism."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from siamreid.data.datasets.market1501 import Market1501
from siamreid.data.samples import ReidSplits
from siamreid.data.synthetic.market import make_synthetic_market
from siamreid.errors import ConfigError, DatasetLayoutError


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.jpg"))}


def _pid_cam(name: str) -> tuple[int, int]:
    pid, rest = name.split("_", 1)
    return int(pid), int(rest[1])  # "c3s1..." -> camera 3 (1-based)


def test_writes_the_market_folder_and_returns_it(synthetic_root: Path) -> None:
    assert synthetic_root.name == "Market-1501-v15.09.15"
    for split in ("bounding_box_train", "bounding_box_test", "query"):
        assert any((synthetic_root / split).iterdir())


def test_summary_counts_match_an_independent_count(
    synthetic_root: Path, synthetic_splits: ReidSplits
) -> None:
    expected = {}
    for split, folder in (
        ("train", "bounding_box_train"),
        ("query", "query"),
        ("gallery", "bounding_box_test"),
    ):
        keys = [_pid_cam(p.name) for p in (synthetic_root / folder).glob("*.jpg")]
        kept = [(pid, cam) for pid, cam in keys if pid != -1 and (split == "gallery" or pid > 0)]
        expected[split] = (len({pid for pid, _ in kept}), len(kept), len({c for _, c in kept}))
    rows = {
        line.split("|")[0].strip(): tuple(int(x) for x in line.split("|")[1:])
        for line in synthetic_splits.summary().splitlines()
        if line.strip().split(" ")[0] in ("train", "query", "gallery")
    }
    assert rows == expected
    assert expected["train"][0] == 12
    assert expected["query"][0] == 12
    assert expected["gallery"][0] == 13  # 12 test identities + distractors (pid 0)
    names = [p.name for p in (synthetic_root / "bounding_box_test").glob("*.jpg")]
    assert any(n.startswith("-1_") for n in names)  # junk written, and dropped on load


def test_protocol_every_query_has_a_cross_camera_match(synthetic_splits: ReidSplits) -> None:
    gallery_cams = defaultdict(set)
    for s in synthetic_splits.gallery:
        gallery_cams[s.pid].add(s.camid)
    for q in synthetic_splits.query:
        assert gallery_cams[q.pid] - {q.camid}, f"query {q.path.name} has no cross-camera match"
    per_pid_cam = Counter((q.pid, q.camid) for q in synthetic_splits.query)
    assert max(per_pid_cam.values()) == 1
    train_ids = {s.pid for s in synthetic_splits.train}
    assert train_ids == set(range(12))
    train_cams = defaultdict(set)
    for s in synthetic_splits.train:
        train_cams[s.pid].add(s.camid)
    assert all(2 <= len(c) <= 6 for c in train_cams.values())


def test_images_are_128x64_rgb_jpegs(synthetic_splits: ReidSplits) -> None:
    for sample in synthetic_splits.query[:5] + synthetic_splits.gallery[:5]:
        with Image.open(sample.path) as img:
            assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (64, 128))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    kwargs = {"num_train_ids": 3, "num_test_ids": 2}
    first = _files(make_synthetic_market(tmp_path / "a", seed=5, **kwargs))
    again = _files(make_synthetic_market(tmp_path / "b", seed=5, **kwargs))
    other = _files(make_synthetic_market(tmp_path / "c", seed=6, **kwargs))
    assert first == again
    assert len(first) > 20
    assert not any(first[name] == other.get(name) for name in first)


def test_existing_dataset_is_kept_unless_overwrite(tmp_path: Path) -> None:
    folder = make_synthetic_market(tmp_path, num_train_ids=2, num_test_ids=2, seed=0)
    with pytest.raises(DatasetLayoutError, match="overwrite=True"):
        make_synthetic_market(tmp_path, num_train_ids=2, num_test_ids=2, seed=0)
    make_synthetic_market(tmp_path, num_train_ids=3, num_test_ids=2, seed=0, overwrite=True)
    assert Market1501(folder).load().num_train_pids == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_train_ids": 0}, "num_train_ids"),
        ({"num_test_ids": 0}, "num_test_ids"),
        ({"cameras_per_id": (1, 3)}, "cameras_per_id"),
        ({"cameras_per_id": (2, 7)}, "cameras_per_id"),
        ({"images_per_camera": (0, 2)}, "images_per_camera"),
        ({"num_train_ids": 9000, "num_test_ids": 1000}, "9999"),
    ],
)
def test_bad_arguments_raise_config_error(
    tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        make_synthetic_market(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "Market-1501-v15.09.15").exists()


def test_an_interrupted_run_leaves_no_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siamreid.data.synthetic import market as synthetic

    calls = []
    original = synthetic._render

    def failing_render(*args: object, **kwargs: object) -> Image.Image:
        calls.append(1)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(synthetic, "_render", failing_render)
    with pytest.raises(KeyboardInterrupt):
        make_synthetic_market(tmp_path, num_train_ids=2, num_test_ids=2, seed=0)
    assert not (tmp_path / "Market-1501-v15.09.15").exists()
    monkeypatch.undo()
    folder = make_synthetic_market(tmp_path, num_train_ids=2, num_test_ids=2, seed=0)
    assert Market1501(folder).load().num_train_pids == 2
    assert [p.name for p in tmp_path.iterdir()] == ["Market-1501-v15.09.15"]
