"""Saving and loading indexes: round trips, atomic replacement, and every kind of bad file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from reference_knn import FakeEmbedder
from safetensors.torch import save_file

from siamreid.errors import IndexFormatError
from siamreid.retrieval import IndexOptions, Retriever
from siamreid.retrieval import storage as storage_module


def filled(metric: str = "euclidean", seed: int = 0, n: int = 50, **kwargs: Any) -> Retriever:
    gen = torch.Generator().manual_seed(seed)
    retriever = Retriever(metric=metric, **kwargs)  # type: ignore[arg-type]
    retriever.add(
        torch.randn(n, 6, generator=gen),
        ids=torch.arange(n) // 2,
        camids=torch.arange(n) % 3,
        paths=[f"img/{seed}_{i}.jpg" for i in range(n)],
    )
    return retriever


def queries() -> torch.Tensor:
    return torch.randn(5, 6, generator=torch.Generator().manual_seed(99))


def data_dir(folder: Path) -> Path:
    """The version folder the bundle's meta.json points at now."""
    return folder / json.loads((folder / "meta.json").read_text())["version"]


def edit_meta(folder: Path, **changes: Any) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize(("backend", "index"), [("torch", "flat"), ("faiss", "hnsw")])
def test_round_trip_keeps_entries_settings_and_answers(
    tmp_path: Path, metric: str, backend: str, index: str
) -> None:
    if backend == "faiss":
        pytest.importorskip("faiss")
    options = IndexOptions(ef_search=40, hnsw_m=8)
    original = filled(metric, backend=backend, index=index, options=options)
    original.remove([3])
    loaded = Retriever.load(original.save(tmp_path / "index"))
    assert (loaded.metric, loaded.backend_name, loaded.index_kind) == (metric, backend, index)
    assert loaded.options == options
    assert torch.equal(loaded.embeddings, original.embeddings)
    assert torch.equal(loaded.ids, original.ids)
    before, after = original.search(queries(), k=7), loaded.search(queries(), k=7)
    assert torch.equal(before.indices, after.indices)
    assert before.paths is not None
    assert after.paths is not None
    # paths come back resolved against the index folder, where they are stored relative
    assert [[os.path.abspath(p) for p in row] for row in before.paths] == after.paths
    assert before.camids is not None
    assert after.camids is not None
    assert torch.equal(before.camids, after.camids)


def test_meta_records_format_embedder_and_counts(tmp_path: Path) -> None:
    retriever = Retriever(FakeEmbedder(), metric="cosine")
    retriever.add(torch.randn(9, 6), ids=[1, 1, 1, 2, 2, 3, 3, 3, 3])
    meta = json.loads((retriever.save(tmp_path / "ix") / "meta.json").read_text())
    assert meta["format"] == "siamreid-index"
    assert meta["format_version"] == 2
    assert (meta["embedder"], meta["embedding_dim"], meta["metric"]) == (
        "fake-colour-stats",
        6,
        "cosine",
    )
    assert (meta["count"], meta["num_ids"], meta["has_paths"]) == (9, 3, False)
    assert not (data_dir(tmp_path / "ix") / "paths.json").exists()
    assert meta["embedder_digest"] is None  # FakeEmbedder reports no weights digest


def test_empty_index_round_trips(tmp_path: Path) -> None:
    loaded = Retriever.load(Retriever().save(tmp_path / "empty"))
    assert len(loaded) == 0
    assert loaded.embedding_dim is None
    loaded.add(torch.randn(2, 3), ids=[4, 5])
    assert loaded.search(torch.randn(1, 3), k=3).k == 2


def test_load_can_switch_backend(tmp_path: Path) -> None:
    path = filled().save(tmp_path / "ix")
    assert Retriever.load(path, backend="torch", index="flat").backend_name == "torch"


def test_load_checks_the_embedder_against_the_saved_one(tmp_path: Path) -> None:
    retriever = Retriever(FakeEmbedder())
    retriever.add(torch.randn(4, 6), ids=[0, 1, 2, 3])
    path = retriever.save(tmp_path / "ix")
    assert Retriever.load(path, FakeEmbedder()).embedder is not None
    other = FakeEmbedder()
    other.backbone_name = "resnet50"  # type: ignore[misc]
    with pytest.raises(IndexFormatError, match=r"'fake-colour-stats' \(dimension 6\).*'resnet50'"):
        Retriever.load(path, other)


def test_embedder_name_survives_a_load_without_the_embedder(tmp_path: Path) -> None:
    retriever = Retriever(FakeEmbedder())
    retriever.add(torch.randn(3, 6), ids=[0, 1, 2])
    reloaded = Retriever.load(retriever.save(tmp_path / "a"))
    reloaded.add(torch.randn(1, 6), ids=[3])
    meta = json.loads((reloaded.save(tmp_path / "b") / "meta.json").read_text())
    assert (meta["embedder"], meta["count"]) == ("fake-colour-stats", 4)


def test_empty_index_of_an_embedder_loads_with_it(tmp_path: Path) -> None:
    path = Retriever(FakeEmbedder()).save(tmp_path / "ix")
    loaded = Retriever.load(path, FakeEmbedder())
    assert loaded.embedding_dim == 6
    with pytest.raises(IndexFormatError, match="dimension 5"):
        loaded.add(torch.randn(1, 5), ids=[1])


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


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match=r"No index folder .*nowhere.*Check the path"):
        Retriever.load(tmp_path / "nowhere")


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return filled().save(tmp_path / "ix")


def test_corrupt_meta_json_is_named(saved: Path) -> None:
    (saved / "meta.json").write_text('{"format": "siamreid-index", "format_ver')
    with pytest.raises(IndexFormatError, match=r"meta\.json' is not valid JSON"):
        Retriever.load(saved)


def test_foreign_folder_and_foreign_meta_are_rejected(saved: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(IndexFormatError, match=r"meta\.json' is missing.*Retriever\.save"):
        Retriever.load(foreign)
    edit_meta(saved, format="faiss-index")
    with pytest.raises(IndexFormatError, match=r"format 'faiss-index', not 'siamreid-index'"):
        Retriever.load(saved)
    (saved / "meta.json").write_text("[1, 2]")
    with pytest.raises(IndexFormatError, match=r"format 'list'"):
        Retriever.load(saved)


def test_newer_format_version_asks_for_an_upgrade(saved: Path) -> None:
    edit_meta(saved, format_version=3, written_by="siamreid 9.0")
    with pytest.raises(
        IndexFormatError, match=r"format_version 3.*siamreid 9\.0.*Upgrade siamreid"
    ):
        Retriever.load(saved)


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
            "embeddings.safetensors": storage_module._sha256(folder / "embeddings.safetensors"),
            "paths.json": storage_module._sha256(folder / "paths.json"),
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
            "embeddings.safetensors": storage_module._sha256(folder / "embeddings.safetensors"),
            "paths.json": storage_module._sha256(folder / "paths.json"),
        },
    )
    with pytest.raises(IndexFormatError, match=r"not a readable safetensors file"):
        Retriever.load(saved)


def test_wrong_query_dimension_after_load_names_both(saved: Path) -> None:
    loaded = Retriever.load(saved)
    with pytest.raises(IndexFormatError, match=r"queries have dimension 5.*dimension-6"):
        loaded.search(torch.randn(1, 5))
    assert loaded.search(queries(), k=1).k == 1
