"""Reading a bundle checks every field of meta.json and every data file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from bundles import data_dir, edit_meta
from safetensors.torch import save_file

from siamreid.errors import IndexFormatError
from siamreid.retrieval import Retriever
from siamreid.retrieval.bundle.layout import sha256


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format_version", "1"),
        ("count", -1),
        ("count", 49),
        ("embedding_dim", "six"),
        ("metric", "manhattan"),
        ("backend", "annoy"),
        ("index", "pq"),
        ("embedder", 3),
        ("has_camids", "yes"),
        ("has_paths", None),
        ("options", {"nprobe": 0}),
        ("sha256", None),
    ],
)
def test_bad_meta_fields_are_named(saved: Path, field: str, value: object) -> None:
    edit_meta(saved, **{field: value})
    message = (
        r"count=49.*promises \(49, 6\)"
        if (field, value) == ("count", 49)
        else rf"meta\.json.*{field}"
    )
    with pytest.raises(IndexFormatError, match=message):
        Retriever.load(saved)


def test_changed_or_truncated_embeddings_fail_the_checksum(saved: Path) -> None:
    data = (data_dir(saved) / "embeddings.safetensors").read_bytes()
    (data_dir(saved) / "embeddings.safetensors").write_bytes(data[:-8])
    with pytest.raises(
        IndexFormatError, match=r"embeddings\.safetensors' does not match the sha256"
    ):
        Retriever.load(saved)
    (data_dir(saved) / "embeddings.safetensors").unlink()
    with pytest.raises(IndexFormatError, match=r"embeddings\.safetensors' is missing"):
        Retriever.load(saved)


def test_tensors_that_disagree_with_meta_are_named(saved: Path) -> None:
    tensors = {"embeddings": torch.zeros(50, 7), "ids": torch.zeros(50, dtype=torch.int64)}
    folder = data_dir(saved)
    save_file(tensors, str(folder / "embeddings.safetensors"))
    edit_meta(
        saved,
        sha256={
            "embeddings.safetensors": sha256(folder / "embeddings.safetensors"),
            "paths.json": sha256(folder / "paths.json"),
        },
    )
    with pytest.raises(
        IndexFormatError, match=r"tensor 'embeddings' is \(\(50, 7\).*embedding_dim=6"
    ):
        Retriever.load(saved)


def test_garbage_with_a_matching_checksum_is_not_a_safetensors_file(saved: Path) -> None:
    folder = data_dir(saved)
    (folder / "embeddings.safetensors").write_bytes(b"garbage" * 10)
    edit_meta(
        saved,
        sha256={
            "embeddings.safetensors": sha256(folder / "embeddings.safetensors"),
            "paths.json": sha256(folder / "paths.json"),
        },
    )
    with pytest.raises(IndexFormatError, match=r"not a readable safetensors file"):
        Retriever.load(saved)
