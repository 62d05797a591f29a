"""Atomic checkpoints: round trip, failure mid-write, pruning, versions, architecture checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from siamreid.errors import CheckpointError
from siamreid.training import checkpoint as ckpt


def _state(value: float) -> dict[str, torch.Tensor]:
    return {"w": torch.full((3, 2), value), "b": torch.arange(4)}


def _save(root: Path, epoch: int, value: float, keep: int = 2) -> Path:
    return ckpt.save_checkpoint(
        root,
        model_state=_state(value),
        train_state={"optimizer": {"lr": 0.1, "buf": torch.ones(2)}, "history": "[]"},
        meta={"epoch": epoch, "backbone": "resnet18", "embedding_dim": 8, "num_classes": 3},
        keep=keep,
    )


def test_round_trip(tmp_path: Path) -> None:
    path = _save(tmp_path, 1, 0.5)
    assert ckpt.find_latest(tmp_path) == path
    loaded = ckpt.load_checkpoint(path)
    assert loaded.epoch == 1
    assert loaded.step == 0
    torch.testing.assert_close(loaded.model_state["w"], torch.full((3, 2), 0.5))
    assert loaded.train_state["optimizer"]["lr"] == 0.1
    torch.testing.assert_close(loaded.train_state["optimizer"]["buf"], torch.ones(2))


def test_failure_mid_write_keeps_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _save(tmp_path, 1, 1.0)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path, 2, 2.0)
    assert ckpt.find_latest(tmp_path) == good
    torch.testing.assert_close(ckpt.load_checkpoint(good).model_state["w"], torch.ones(3, 2))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_keeps_only_the_newest(tmp_path: Path) -> None:
    for epoch in range(1, 5):
        _save(tmp_path, epoch, float(epoch), keep=2)
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert folders == ["epoch_0003", "epoch_0004"]


def test_missing_file_and_newer_format_are_named(tmp_path: Path) -> None:
    path = _save(tmp_path, 1, 1.0)
    meta = json.loads((path / "meta.json").read_text())
    meta["format_version"] = ckpt.FORMAT_VERSION + 1
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format_version"):
        ckpt.load_checkpoint(path)
    (path / "state.pt").unlink()
    with pytest.raises(CheckpointError, match=r"state\.pt"):
        ckpt.load_checkpoint(path)


def test_corrupt_weights_file(tmp_path: Path) -> None:
    path = _save(tmp_path, 1, 1.0)
    (path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="corrupt"):
        ckpt.load_checkpoint(path)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = _save(tmp_path, 1, 1.0)
    torch.save({"evil": Path("x")}, path / "state.pt")  # an arbitrary class, not plain data
    with pytest.raises(CheckpointError):
        ckpt.load_checkpoint(path)


def test_architecture_mismatch_names_both(tmp_path: Path) -> None:
    meta = {"backbone": "resnet18", "embedding_dim": 8}
    with pytest.raises(CheckpointError, match=r"embedding_dim=8.*embedding_dim=16"):
        ckpt.check_compatible(meta, {"backbone": "resnet18", "embedding_dim": 16}, tmp_path)
    ckpt.check_compatible(meta, dict(meta), tmp_path)


@pytest.mark.parametrize("pointer", ["dotdot", "absolute", "link"])
def test_a_latest_pointer_outside_the_checkpoints_folder_is_refused(
    tmp_path: Path, pointer: str
) -> None:
    other = _save(tmp_path / "other_run" / "checkpoints", 3, 7.0)  # a real, loadable checkpoint
    root = tmp_path / "run" / "checkpoints"
    _save(root, 1, 1.0)
    names = {"dotdot": "../../other_run/checkpoints/epoch_0003", "absolute": str(other)}
    if pointer == "link":
        (root / "epoch_0009").symlink_to(other, target_is_directory=True)
        names["link"] = "epoch_0009"
    (root / "latest.json").write_text(json.dumps({"path": names[pointer], "epoch": 3}))
    with pytest.raises(CheckpointError) as info:
        ckpt.find_latest(root)
    message = str(info.value)
    assert f"{str(root / 'latest.json')!r}, field 'path': {names[pointer]!r}" in message
    assert "checkpoint folders beside it" in message


def test_load_pretrained_refuses_a_latest_pointer_outside_the_run(tmp_path: Path) -> None:
    from siamreid.models import load_pretrained

    _save(tmp_path / "other_run" / "checkpoints", 3, 7.0)
    root = tmp_path / "run" / "train" / "checkpoints"
    _save(root, 1, 1.0)
    (root / "latest.json").write_text(
        json.dumps({"path": "../../../other_run/checkpoints/epoch_0003", "epoch": 3})
    )
    with pytest.raises(CheckpointError, match=r"field 'path': '\.\./\.\./\.\./other_run"):
        load_pretrained(tmp_path / "run")
