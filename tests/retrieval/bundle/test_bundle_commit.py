"""Saving onto a bundle: atomic replacement, failed saves and commits, foreign folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from bundles import filled

from siamreid.errors import IndexFormatError
from siamreid.retrieval import Retriever
from siamreid.retrieval.bundle import storage as storage_module
from siamreid.retrieval.bundle.commit import read_consistently


def test_resave_replaces_the_index_and_leaves_no_temporary_folders(tmp_path: Path) -> None:
    target = tmp_path / "ix"
    filled(seed=1).save(target)
    filled(seed=2, n=20).save(target)
    assert len(Retriever.load(target)) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ix"]
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith("v-")) == [
        ".siamreid.lock",
        "meta.json",
    ]
    assert len([p for p in target.iterdir() if p.name.startswith("v-")]) == 1


def test_failed_save_leaves_the_old_index_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ix"
    old = filled(seed=1)
    old.save(target)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(storage_module, "atomic_write_text", crash)  # after the tensors
    with pytest.raises(OSError, match="disk full"):
        filled(seed=2, n=20).save(target)
    assert torch.equal(Retriever.load(target).embeddings, old.embeddings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ix"]
    assert not [p for p in target.iterdir() if ".tmp-" in p.name]


def test_failed_commit_keeps_the_old_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ix"
    old = filled(seed=1)
    old.save(target)
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).name == "meta.json":
            raise OSError("rename failed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"):
        filled(seed=2, n=20).save(target)
    monkeypatch.undo()
    assert torch.equal(Retriever.load(target).embeddings, old.embeddings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ix"]
    filled(seed=3, n=10).save(target)  # the next save clears what the failed one left
    assert len([p for p in target.iterdir() if p.name.startswith("v-")]) == 1
    assert not [p for p in target.iterdir() if ".tmp-" in p.name]


def test_save_refuses_to_replace_a_folder_that_is_not_an_index(tmp_path: Path) -> None:
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "me.jpg").write_bytes(b"not really")
    with pytest.raises(
        IndexFormatError, match=r"Refusing to save an index into .*photos.*not a siamreid index"
    ):
        filled().save(precious)
    assert (precious / "me.jpg").read_bytes() == b"not really"


def test_a_reader_that_raced_a_save_reads_again(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text("1")
    calls: list[int] = []

    def read_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            (tmp_path / "meta.json").write_text("2")  # a save committed meanwhile
            raise IndexFormatError("file gone")
        return "read"

    assert read_consistently(tmp_path, read_once) == "read"
    assert len(calls) == 2


def test_a_failure_of_an_unchanged_bundle_is_raised_at_once(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text("1")
    calls: list[int] = []

    def read_once() -> str:
        calls.append(1)
        raise IndexFormatError("corrupt")

    with pytest.raises(IndexFormatError, match="corrupt"):
        read_consistently(tmp_path, read_once)
    assert len(calls) == 1
