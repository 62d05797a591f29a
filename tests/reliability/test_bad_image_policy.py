"""``on_bad_image``: a corrupt JPEG either stops the run naming the file, or is left out.

``"skip"`` is what every image error recommends; it is reachable from :class:`DataConfig`, from
recipes (``data.on_bad_image=skip``) and from :func:`apply_bad_image_policy`, which drops the
file from every split instead of scoring another image under its label.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from quick_training import QuickConfig
from siamreid.data import DataConfig, apply_bad_image_policy
from siamreid.data.datasets.market1501 import Market1501
from siamreid.data.samples import ReidSplits
from siamreid.data.synthetic.market import make_synthetic_market
from siamreid.data.torch_data import unreadable_images
from siamreid.errors import ConfigError, ImageLoadError
from siamreid.losses import LossTermConfig
from siamreid.models import SiameseEmbedder
from siamreid.training import Trainer
from siamreid.training.recipe import load_recipe
from siamreid.training.validation import compute_outputs

SIZE = (64, 32)


def _corrupt(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # a truncated JPEG, as an interrupted copy leaves


@pytest.fixture
def broken(tmp_path: Path, synthetic_root: Path) -> tuple[ReidSplits, list[Path]]:
    """The shared synthetic dataset, copied, with one train and one query JPEG truncated."""
    root = Path(shutil.copytree(synthetic_root, tmp_path / "data"))
    splits = Market1501(root).load()
    bad = [splits.train[0].path, splits.query[0].path]
    for path in bad:
        _corrupt(path)
    return splits, bad


def test_raise_names_the_file(broken: tuple[ReidSplits, list[Path]]) -> None:
    splits, bad = broken
    assert apply_bad_image_policy(splits, "raise") is splits
    model = SiameseEmbedder("resnet18", 32, pretrained=False, input_size=SIZE)
    with pytest.raises(ImageLoadError, match=rf"{bad[1].name}.*on_bad_image='skip'"):
        compute_outputs(model, splits.query)


def test_skip_drops_bad_files_from_every_split(
    broken: tuple[ReidSplits, list[Path]], caplog: pytest.LogCaptureFixture
) -> None:
    splits, bad = broken
    with caplog.at_level(logging.WARNING, logger="siamreid.data.torch_data"):
        kept = apply_bad_image_policy(splits, "skip", workers=2)
    paths = {s.path for s in (*kept.train, *kept.query, *kept.gallery)}
    assert not paths & set(bad)
    assert len(kept.train) == len(splits.train) - 1
    assert len(kept.query) == len(splits.query) - 1
    assert kept.gallery == splits.gallery
    assert kept.notes[-1].startswith("2 unreadable image(s) skipped")
    assert sum(path.name in r.getMessage() for r in caplog.records for path in bad) == 2
    # the same splits otherwise: every kept sample keeps its label
    assert kept.train == splits.train[1:]
    assert kept.query == splits.query[1:]


@pytest.mark.slow
def test_skip_trains_and_evaluates_on_a_dataset_with_a_corrupt_jpeg(
    broken: tuple[ReidSplits, list[Path]], quick_config: QuickConfig
) -> None:
    splits, _ = broken
    kept = apply_bad_image_policy(splits, "skip")
    torch.manual_seed(0)
    model = SiameseEmbedder(
        "resnet18", 32, pretrained=False, num_classes=kept.num_train_pids, input_size=SIZE
    )
    config = quick_config(losses=(LossTermConfig("triplet"), LossTermConfig("id")))
    history = Trainer(model, config).fit(kept.train, kept)
    assert history[0].mAP is not None


def test_train_identities_left_without_images_are_relabelled(synthetic_root: Path) -> None:
    splits = Market1501(synthetic_root).load()
    gone = {s.path for s in splits.train if s.pid == 0}
    fake = replace(
        splits,
        train=[
            replace(s, path=s.path.with_name("missing.jpg")) if s.path in gone else s
            for s in splits.train
        ],
    )
    kept = apply_bad_image_policy(fake, "skip")
    assert kept.num_train_pids == splits.num_train_pids - 1
    assert sorted({s.pid for s in kept.train}) == list(range(kept.num_train_pids))
    assert [s.path for s in kept.train] == [s.path for s in splits.train if s.path not in gone]


def test_policy_is_reachable_from_data_config_and_recipes() -> None:
    assert DataConfig().on_bad_image == "raise"
    assert DataConfig(on_bad_image="skip").on_bad_image == "skip"
    assert load_recipe(None, ["data.on_bad_image=skip"]).data.on_bad_image == "skip"
    with pytest.raises(ConfigError, match=r"data\.on_bad_image is 'ignore'; expected one of"):
        load_recipe(None, ["data.on_bad_image=ignore"])
    with pytest.raises(ConfigError, match=r"DataConfig\.on_bad_image is 'ignore'"):
        DataConfig(on_bad_image="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on_bad_image"):
        apply_bad_image_policy(ReidSplits([], [], []), "ignore")  # type: ignore[arg-type]


def test_a_fresh_synthetic_copy_is_clean(tmp_path: Path) -> None:
    root = make_synthetic_market(tmp_path, num_train_ids=2, num_test_ids=2, seed=1)
    splits = Market1501(root).load()
    assert apply_bad_image_policy(splits, "skip") == splits


def test_unreadable_images_lists_exactly_the_bad_files(
    broken: tuple[ReidSplits, list[Path]],
) -> None:
    splits, bad = broken
    paths = [s.path for s in (*splits.train, *splits.query, *splits.gallery)]
    found = unreadable_images([*paths, *bad], workers=2)  # duplicates are decoded once
    assert sorted(found) == sorted(bad)
    assert all(str(path) in reason for path, reason in found.items())
