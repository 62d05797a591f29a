"""ReidImageDataset (loading, bad-image policy) and TripletDataset (seeded triplet choice)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader

from siamreid.data.images import load_image
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.data.torch_data import ReidImageDataset, TripletDataset
from siamreid.data.transforms import TransformConfig, build_eval_transform
from siamreid.errors import ConfigError, DatasetLayoutError, ImageLoadError

TRANSFORM = build_eval_transform(TransformConfig(height=32, width=16), (0.5,) * 3, (0.5,) * 3)


def _png(path: Path, value: int) -> Path:
    Image.new("RGB", (8, 16), (value, value, value)).save(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    good = {f"good{i}": _png(tmp_path / f"good{i}.png", 40 * i) for i in range(4)}
    jpeg = tmp_path / "full.jpg"
    Image.new("RGB", (64, 128), (10, 200, 30)).save(jpeg, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    text = tmp_path / "notes.jpg"
    text.write_bytes(b"this is not an image")
    return {**good, "truncated": truncated, "text": text}


def _value(image: torch.Tensor) -> int:
    """The grey level of a constant test image after the eval transform."""
    return round(float((image[0, 0, 0] * 0.5 + 0.5) * 255))


def test_items_are_image_pid_camid_with_unknown_camera_as_minus_one(
    files: dict[str, Path],
) -> None:
    samples = [ReidSample(files["good1"], 3, 2), ReidSample(files["good2"], 5, None)]
    ds = ReidImageDataset(samples, TRANSFORM)
    image, pid, camid = ds[0]
    assert (image.shape, image.dtype, pid, camid) == ((3, 32, 16), torch.float32, 3, 2)
    assert _value(image) == 40
    assert ds[1][1:] == (5, -1)
    images, pids, camids = next(iter(DataLoader(ds, batch_size=2)))
    assert images.shape == (2, 3, 32, 16)
    assert pids.tolist() == [3, 5]
    assert camids.tolist() == [2, -1]


@pytest.mark.parametrize("bad", ["truncated", "text"])
def test_bad_image_raises_naming_the_file(files: dict[str, Path], bad: str) -> None:
    ds = ReidImageDataset(
        [ReidSample(files["good0"], 0, 0), ReidSample(files[bad], 0, 0)], TRANSFORM
    )
    ds[0]
    with pytest.raises(ImageLoadError, match=files[bad].name):
        ds[1]


def test_skip_replaces_by_the_next_image_of_the_same_identity_and_counts(
    files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    samples = [
        ReidSample(files["good1"], 1, 0),
        ReidSample(files["truncated"], 2, 0),
        ReidSample(files["good2"], 1, 0),
        ReidSample(files["text"], 2, 1),
        ReidSample(files["good3"], 2, 1),
    ]
    ds = ReidImageDataset(samples, TRANSFORM, on_bad_image="skip")
    with caplog.at_level(logging.WARNING, logger="siamreid.data.torch_data"):
        image, pid, camid = ds[1]
    assert (_value(image), pid, camid) == (120, 2, 1)  # good3: next readable image of pid 2
    assert ds.num_skipped == 2
    assert sum("truncated.jpg" in r.getMessage() for r in caplog.records) == 1
    assert sum("notes.jpg" in r.getMessage() for r in caplog.records) == 1
    image, pid, _ = ds[3]
    assert (_value(image), pid) == (120, 2)
    assert ds.num_skipped == 2  # each bad file counted once
    assert [_value(ds[i][0]) for i in range(len(ds))] == [40, 120, 80, 120, 120]


def test_skip_falls_back_to_another_identity_then_gives_up(files: dict[str, Path]) -> None:
    samples = [ReidSample(files["text"], 7, 0), ReidSample(files["good2"], 8, 0)]
    ds = ReidImageDataset(samples, TRANSFORM, on_bad_image="skip")
    assert (_value(ds[0][0]), ds[0][1]) == (80, 8)
    all_bad = ReidImageDataset(
        [ReidSample(files["text"], 1, 0), ReidSample(files["truncated"], 2, 0)],
        TRANSFORM,
        on_bad_image="skip",
    )
    with pytest.raises(ImageLoadError, match="No readable image"):
        all_bad[0]


def test_unknown_policy_raises_config_error(files: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="on_bad_image"):
        ReidImageDataset([ReidSample(files["good0"], 0, 0)], TRANSFORM, on_bad_image="ignore")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- TripletDataset
@st.composite
def sample_lists(draw: st.DrawFn) -> list[ReidSample]:
    num = draw(st.integers(2, 40))
    pids = draw(
        st.lists(st.integers(0, 5), min_size=num, max_size=num).filter(lambda p: len(set(p)) >= 2)
    )
    cameras = draw(st.booleans())
    cams = draw(st.lists(st.integers(0, 3), min_size=num, max_size=num))
    return [
        ReidSample(Path(f"{i}.jpg"), pid, cam if cameras else None)
        for i, (pid, cam) in enumerate(zip(pids, cams, strict=True))
    ]


@settings(max_examples=100, deadline=None)
@given(samples=sample_lists(), seed=st.integers(0, 10), epoch=st.integers(0, 3))
def test_triplets_follow_the_rules(samples: list[ReidSample], seed: int, epoch: int) -> None:
    ds = TripletDataset(samples, TRANSFORM, seed=seed)
    ds.set_epoch(epoch)
    for i in reversed(range(len(samples))):
        a, p, n = ds.triplet(i)
        anchor, positive, negative = samples[a], samples[p], samples[n]
        assert a == i
        assert negative.pid != anchor.pid
        assert positive.pid == anchor.pid
        others = [j for j, s in enumerate(samples) if s.pid == anchor.pid and j != i]
        if not others:
            assert p == i
            continue
        assert p != i
        cross = [j for j in others if samples[j].camid != anchor.camid]
        if anchor.camid is not None and cross:
            assert positive.camid != anchor.camid


def test_triplets_depend_only_on_seed_epoch_and_index(synthetic_splits: ReidSplits) -> None:
    train = synthetic_splits.train
    ds = TripletDataset(train, TRANSFORM, seed=3)
    forward = [ds.triplet(i) for i in range(len(train))]
    assert [ds.triplet(i) for i in reversed(range(len(train)))] == forward[::-1]
    assert [
        TripletDataset(train, TRANSFORM, seed=3).triplet(i) for i in range(len(train))
    ] == forward
    ds.set_epoch(1)
    assert [ds.triplet(i) for i in range(len(train))] != forward
    other_seed = TripletDataset(train, TRANSFORM, seed=4)
    assert [other_seed.triplet(i) for i in range(len(train))] != forward


def test_item_is_the_three_transformed_images_and_two_pids(synthetic_splits: ReidSplits) -> None:
    train = synthetic_splits.train
    ds = TripletDataset(train, TRANSFORM, seed=0)
    *images, pid_a, pid_n = ds[5]
    indices = ds.triplet(5)
    for image, index in zip(images, indices, strict=True):
        torch.testing.assert_close(image, TRANSFORM(load_image(train[index].path)))
    assert (pid_a, pid_n) == (train[indices[0]].pid, train[indices[2]].pid)


def test_fewer_than_two_identities_raise() -> None:
    samples = [ReidSample(Path(f"{i}.jpg"), 4, i) for i in range(3)]
    with pytest.raises(DatasetLayoutError, match="at least two identities"):
        TripletDataset(samples, TRANSFORM)


def test_real_positive_is_cross_camera_on_synthetic_data(synthetic_splits: ReidSplits) -> None:
    train = synthetic_splits.train
    ds = TripletDataset(train, TRANSFORM, seed=0)
    cams = np.asarray([s.camid for s in train])
    for i in range(len(train)):
        _, p, _ = ds.triplet(i)
        assert cams[p] != cams[i]  # every synthetic identity is seen by >= 2 cameras
