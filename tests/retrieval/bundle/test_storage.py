"""Saving and loading index bundles: round trips, the record, missing, foreign and newer bundles."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from bundles import data_dir, edit_meta, filled, queries
from reference_knn import FakeEmbedder

from siamreid.errors import IndexFormatError
from siamreid.retrieval import IndexOptions, Retriever


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


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match=r"No index folder .*nowhere.*Check the path"):
        Retriever.load(tmp_path / "nowhere")


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


def test_wrong_query_dimension_after_load_names_both(saved: Path) -> None:
    loaded = Retriever.load(saved)
    with pytest.raises(IndexFormatError, match=r"queries have dimension 5.*dimension-6"):
        loaded.search(torch.randn(1, 5))
    assert loaded.search(queries(), k=1).k == 1
