"""save_pretrained / load_pretrained: exact round trips, training outputs, the hub, bad folders."""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from siamreid.data.samples import ReidSplits
from siamreid.errors import CheckpointError
from siamreid.models import SiameseEmbedder, _locate, load_pretrained
from siamreid.models.serialization import (
    CONFIG_FILE,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    push_to_hub,
    save_pretrained,
)

SIZE = (64, 32)


def _tiny(num_classes: int = 0, embedding_dim: int = 16, seed: int = 0) -> SiameseEmbedder:
    torch.manual_seed(seed)
    model = SiameseEmbedder(
        "test_efficientnet",
        embedding_dim=embedding_dim,
        pretrained=False,
        input_size=SIZE,
        num_classes=num_classes,
    )
    model.train()
    with torch.no_grad():  # move BatchNorm statistics away from their initial values
        model(torch.randn(8, 3, *SIZE))
    return model


@pytest.fixture(scope="module")
def model() -> SiameseEmbedder:
    return _tiny(num_classes=5)


@pytest.fixture(scope="module")
def saved(model: SiameseEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_pretrained(model, tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture
def copy_of(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "copy"))


def _images() -> torch.Tensor:
    return torch.randn(6, 3, *SIZE, generator=torch.Generator().manual_seed(1))


def _edit_config(folder: Path, **changes: Any) -> None:
    path = folder / CONFIG_FILE
    record = json.loads(path.read_text())
    for key, value in changes.items():
        if value is ...:
            del record[key]
        else:
            record[key] = value
    path.write_text(json.dumps(record))


def test_round_trip_is_bit_exact(model: SiameseEmbedder, saved: Path) -> None:
    loaded = load_pretrained(saved)
    assert not loaded.training
    assert loaded.config == replace(model.config, pretrained=False)
    assert loaded.data_config == model.data_config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert torch.equal(loaded.embed(_images(), flip=True), model.embed(_images(), flip=True))


def test_saved_folder_holds_the_two_files_and_the_documented_fields(
    model: SiameseEmbedder, saved: Path
) -> None:
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    record = json.loads((saved / CONFIG_FILE).read_text())
    assert record["format_version"] == FORMAT_VERSION
    assert record["backbone"] == "test_efficientnet"
    assert record["embedding_dim"] == 16
    assert record["input_size"] == list(SIZE)
    assert record["mean"] == list(model.data_config.mean)
    assert record["std"] == list(model.data_config.std)
    assert record["metric"] == "cosine"
    assert record["siamreid_version"]


def test_loading_unpickles_nothing(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling during load")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    load_pretrained(saved)


def test_saved_statistics_drive_preprocessing(copy_of: Path, tmp_path: Path) -> None:
    _edit_config(copy_of, mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], interpolation="bilinear")
    loaded = load_pretrained(copy_of)
    image = Image.fromarray(np.full((SIZE[0], SIZE[1], 3), 128, dtype=np.uint8))
    batch = loaded.preprocess([image])
    torch.testing.assert_close(batch, torch.full_like(batch, 128 / 255))
    assert loaded.data_config.interpolation == "bilinear"


def test_config_or_weights_file_path_is_accepted(saved: Path) -> None:
    reference = load_pretrained(saved).embed(_images())
    for path in (saved / CONFIG_FILE, saved / WEIGHTS_FILE, str(saved)):
        assert torch.equal(load_pretrained(path).embed(_images()), reference)


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pretrained(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="holds no saved model"):
        load_pretrained(tmp_path)


def test_missing_weights_file_is_named(copy_of: Path) -> None:
    (copy_of / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors' is missing"):
        load_pretrained(copy_of)


def test_corrupt_weights_are_reported(copy_of: Path) -> None:
    weights = copy_of / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_pretrained(copy_of)


def test_newer_format_version_is_refused(copy_of: Path) -> None:
    _edit_config(copy_of, format_version=FORMAT_VERSION + 1)
    with pytest.raises(CheckpointError, match=r"config\.json' has format_version 2.*Upgrade"):
        load_pretrained(copy_of)


def test_foreign_config_is_refused(copy_of: Path) -> None:
    _edit_config(copy_of, format="transformers")
    with pytest.raises(CheckpointError, match="field 'format'"):
        load_pretrained(copy_of)


@pytest.mark.parametrize(
    "field", ["backbone", "embedding_dim", "num_classes", "input_size", "normalize", "mean"]
)
def test_missing_field_is_named(copy_of: Path, field: str) -> None:
    _edit_config(copy_of, **{field: ...})
    with pytest.raises(CheckpointError, match=f"config.json' has no field '{field}'"):
        load_pretrained(copy_of)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("embedding_dim", "16", "must be an integer"),
        ("normalize", 1, "must be true or false"),
        ("input_size", [64], r"must be \[height, width\]"),
        ("std", [1.0, 1.0], "must be a list of 3 numbers"),
        ("embedding_dim", 0, "invalid model config"),
    ],
)
def test_mistyped_field_is_named(copy_of: Path, field: str, value: object, message: str) -> None:
    _edit_config(copy_of, **{field: value})
    with pytest.raises(CheckpointError, match=message):
        load_pretrained(copy_of)


@pytest.mark.parametrize(
    ("field", "value"),
    [("embedding_dim", 8), ("num_classes", 0), ("backbone", "resnet18")],
)
def test_weights_config_mismatch_names_the_field(copy_of: Path, field: str, value: object) -> None:
    _edit_config(copy_of, **{field: value})
    with pytest.raises(CheckpointError, match=f"Field '{field}' is the likely mismatch") as info:
        load_pretrained(copy_of)
    assert WEIGHTS_FILE in str(info.value)
    assert CONFIG_FILE in str(info.value)


def test_unknown_backbone_in_config_is_a_checkpoint_error(copy_of: Path) -> None:
    _edit_config(copy_of, backbone="resnet_does_not_exist")
    with pytest.raises(CheckpointError, match="field 'backbone'"):
        load_pretrained(copy_of)


def test_save_into_a_file_is_refused(model: SiameseEmbedder, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CheckpointError, match="it is a file"):
        save_pretrained(model, target)


# ----------------------------------------------------------------------- training outputs
@pytest.fixture(scope="module")
def trained_run(
    tmp_path_factory: pytest.TempPathFactory, synthetic_splits: ReidSplits
) -> tuple[Path, SiameseEmbedder]:
    """A real Trainer run of one short epoch, so the checkpoint layout is the trainer's own."""
    from quick_training import quick_config
    from siamreid.training import Trainer

    run = tmp_path_factory.mktemp("run")
    model = _tiny(num_classes=synthetic_splits.num_train_pids)
    config = quick_config(run / "train", steps=2)
    Trainer(model, config).fit(synthetic_splits.train)
    return run, model


def test_training_outputs_load_from_each_folder(trained_run: tuple[Path, SiameseEmbedder]) -> None:
    run, model = trained_run
    expected = model.embed(_images())
    epoch_dir = next((run / "train" / "checkpoints").glob("epoch_*"))
    for source in (run, run / "train", run / "train" / "checkpoints", epoch_dir):
        assert torch.equal(load_pretrained(source).embed(_images()), expected), source


def test_run_model_folder_is_preferred(
    trained_run: tuple[Path, SiameseEmbedder], tmp_path: Path
) -> None:
    run = Path(shutil.copytree(trained_run[0], tmp_path / "run"))
    other = _tiny(seed=3)
    save_pretrained(other, run / "model")
    assert torch.equal(load_pretrained(run).embed(_images()), other.embed(_images()))


def test_checkpoint_without_model_config_is_named(
    trained_run: tuple[Path, SiameseEmbedder], tmp_path: Path
) -> None:
    epoch_dir = next((trained_run[0] / "train" / "checkpoints").glob("epoch_*"))
    ckpt = Path(shutil.copytree(epoch_dir, tmp_path / "epoch"))
    meta = json.loads((ckpt / "meta.json").read_text())
    del meta["model_config"]
    (ckpt / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="no field 'model_config'"):
        load_pretrained(ckpt)


def test_dangling_latest_pointer_is_named(
    trained_run: tuple[Path, SiameseEmbedder], tmp_path: Path
) -> None:
    root = Path(shutil.copytree(trained_run[0] / "train" / "checkpoints", tmp_path / "ckpts"))
    (root / "latest.json").write_text(json.dumps({"path": "epoch_0999"}))
    with pytest.raises(CheckpointError, match="names 'epoch_0999', which does not exist"):
        load_pretrained(root)


# ---------------------------------------------------------------------------------- the hub
def test_hub_source_downloads_the_two_files(
    saved: Path, model: SiameseEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    calls: list[tuple[str, str]] = []

    def fake_download(repo_id: str, filename: str, **kwargs: object) -> str:
        calls.append((repo_id, filename))
        return str(saved / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(_locate, "hub_reachable", lambda: True)  # the fake answers
    loaded = load_pretrained("hf-hub:org/reid-model")
    assert sorted(calls) == [("org/reid-model", CONFIG_FILE), ("org/reid-model", WEIGHTS_FILE)]
    assert torch.equal(loaded.embed(_images()), model.embed(_images()))


def test_hub_failure_is_a_checkpoint_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def offline(repo_id: str, filename: str, **kwargs: object) -> str:
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    monkeypatch.setattr(_locate, "hub_reachable", lambda: True)  # reachable, then it fails
    with pytest.raises(CheckpointError, match=r"Cannot download config\.json of 'hf-hub:a/b'"):
        load_pretrained("hf-hub:a/b")


def test_an_unreachable_hub_fails_at_once_without_downloading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import huggingface_hub

    def must_not_download(repo_id: str, filename: str, **kwargs: object) -> str:
        raise AssertionError("downloaded although the hub is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", must_not_download)
    monkeypatch.setattr(_locate, "hub_reachable", lambda: False)
    with pytest.raises(CheckpointError, match=r"not reachable.*--checkpoint PATH"):
        load_pretrained("hf-hub:a/b")


def test_push_to_hub_uploads_a_loadable_folder(
    model: SiameseEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    uploaded = tmp_path / "uploaded"
    created: list[tuple[str, bool]] = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            self.token = token

        def create_repo(self, repo_id: str, *, private: bool, exist_ok: bool) -> None:
            created.append((repo_id, private))

        def upload_folder(self, *, repo_id: str, folder_path: str, commit_message: str) -> Any:
            shutil.copytree(folder_path, uploaded)
            return type("Info", (), {"commit_url": f"https://hf.co/{repo_id}/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push_to_hub(model, "me/reid", private=True)
    assert url == "https://hf.co/me/reid/commit/1"
    assert created == [("me/reid", True)]
    assert torch.equal(load_pretrained(uploaded).embed(_images()), model.embed(_images()))
