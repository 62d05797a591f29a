"""The Milvus backend in embedded mode (milvus-lite): exact, removal, camera filter, reopen."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from reference_knn import reference_knn

from siamreid.errors import ConfigError
from siamreid.retrieval import IndexOptions, Retriever, create_backend

pytest.importorskip("pymilvus")  # the `milvus` extra, part of `all`
pytest.importorskip("milvus_lite")

from siamreid.retrieval.backends.milvus import MilvusBackend


def gallery(n: int = 240, dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random float embeddings (no ties), ids with repeats, six cameras, and queries."""
    gen = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, dim, generator=gen)
    ids = torch.randint(0, n // 4, (n,), generator=gen)
    cams = torch.randint(0, 6, (n,), generator=gen)
    queries = torch.randn(12, dim, generator=gen)
    return emb, ids, cams, queries


def filled(retriever: Retriever, emb: torch.Tensor, ids: torch.Tensor, cams: torch.Tensor) -> None:
    retriever.add(
        emb, ids=ids, camids=cams, paths=[f"/data/img/{i:04d}.jpg" for i in range(len(emb))]
    )


@pytest.fixture
def store(tmp_path: Path) -> IndexOptions:
    return IndexOptions(uri=str(tmp_path / "gallery.db"))


def test_milvus_flat_equals_torch_and_the_reference(store: IndexOptions) -> None:
    emb, ids, cams, queries = gallery()
    milvus, exact = Retriever(backend="milvus", options=store), Retriever()
    filled(milvus, emb, ids, cams)
    filled(exact, emb, ids, cams)
    found, expected = milvus.search(queries, k=7), exact.search(queries, k=7)
    ref_dist, ref_idx = reference_knn(queries, emb, 7)
    np.testing.assert_array_equal(found.indices.numpy(), ref_idx)
    assert torch.equal(found.indices, expected.indices)
    assert torch.equal(found.ids, expected.ids)
    assert torch.equal(found.camids, expected.camids)
    assert found.paths == expected.paths
    np.testing.assert_allclose(found.distances.numpy(), ref_dist, rtol=1e-5, atol=1e-5)


def test_removed_entries_leave_the_collection(store: IndexOptions) -> None:
    emb, ids, cams, queries = gallery(seed=1)
    retriever = Retriever(backend="milvus", options=store)
    filled(retriever, emb, ids, cams)
    retriever.search(queries, k=5)  # builds the collection
    gone = ids[:10].unique()
    assert retriever.remove(gone) == int(torch.isin(ids, gone).sum())
    result = retriever.search(queries, k=5)
    assert not torch.isin(result.ids, gone).any()
    keep = ~torch.isin(ids, gone)
    _, ref_idx = reference_knn(queries, emb[keep], 5)
    assert torch.equal(result.indices, torch.from_numpy(ref_idx))
    backend = retriever._backend
    assert isinstance(backend, MilvusBackend)
    assert backend.stored_rows == int(keep.sum())


@pytest.mark.parametrize("backend", ["milvus", "torch"])
def test_camera_filter_searches_only_those_cameras_exactly(
    store: IndexOptions, backend: str
) -> None:
    emb, ids, cams, queries = gallery(seed=2)
    retriever = Retriever(backend=backend, options=store)  # type: ignore[arg-type]
    filled(retriever, emb, ids, cams)
    result = retriever.search(queries, k=6, camids=[1, 4])
    rows = torch.isin(cams, torch.tensor([1, 4])).nonzero().flatten()
    ref_dist, ref_idx = reference_knn(queries, emb[rows], 6)
    assert torch.equal(result.indices, rows[torch.from_numpy(ref_idx)])
    assert set(result.camids.flatten().tolist()) <= {1, 4}
    np.testing.assert_allclose(result.distances.numpy(), ref_dist, rtol=1e-5, atol=1e-5)


def test_camera_filter_with_fewer_matches_than_k_pads_the_result(store: IndexOptions) -> None:
    emb, ids, cams, queries = gallery(n=40, seed=3)
    cams = torch.where(torch.arange(40) < 3, 5, 0)  # three entries of camera 5
    retriever = Retriever(backend="milvus", options=store)
    filled(retriever, emb, ids, cams)
    result = retriever.search(queries[:2], k=5, camids=[5])
    assert sorted(result.indices[0, :3].tolist()) == [0, 1, 2]
    assert result.indices[:, 3:].eq(-1).all()
    assert result.distances[:, 3:].isinf().all()


def test_camera_filter_needs_camera_ids() -> None:
    retriever = Retriever()
    retriever.add(torch.randn(5, 4), ids=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"no camera ids.*add entries with camids"):
        retriever.search(torch.randn(1, 4), k=2, camids=[0])


def test_embedded_store_persists_and_is_reused_after_reopen(
    store: IndexOptions, tmp_path: Path
) -> None:
    emb, ids, cams, queries = gallery(seed=4)
    retriever = Retriever(backend="milvus", options=store)
    filled(retriever, emb, ids, cams)
    before = retriever.search(queries, k=5)
    retriever.save(tmp_path / "bundle")
    first = retriever._backend
    assert isinstance(first, MilvusBackend)
    assert first.inserted == len(emb)
    first.close()  # stops the embedded server: the next open reads the files on disk

    reopened = MilvusBackend("flat", store, owner=retriever.index_id)
    assert reopened.stored_rows == len(emb)
    reopened.close()
    loaded = Retriever.load(tmp_path / "bundle", options=store)
    after = loaded.search(queries, k=5)
    backend = loaded._backend
    assert isinstance(backend, MilvusBackend)
    assert backend.inserted == 0  # the stored rows matched the bundle: nothing re-inserted
    assert torch.equal(after.indices, before.indices)
    assert after.paths == before.paths
    loaded.add(
        emb[:3], ids=ids[:3], camids=cams[:3], paths=["/data/a.jpg", "/data/b.jpg", "/data/c.jpg"]
    )
    assert loaded.search(emb[:1], k=1).indices.item() in (0, len(emb))  # duplicates of row 0
    assert backend.inserted == 3  # appends are inserted, not a rebuild
    assert backend.stored_rows == len(emb) + 3


def test_approximate_milvus_indexes_find_the_neighbours(store: IndexOptions) -> None:
    emb, ids, cams, _ = gallery(n=400, seed=5)
    queries = emb[:20] + 0.01
    for index, options in [
        ("hnsw", IndexOptions(uri=store.uri, ef_search=64)),
        ("ivf", IndexOptions(uri=store.uri, nlist=4, nprobe=4)),
    ]:
        retriever = Retriever(backend="milvus", index=index, options=options)  # type: ignore[arg-type]
        filled(retriever, emb, ids, cams)
        assert retriever.search(queries, k=1).indices.flatten().tolist() == list(range(20))


def test_missing_pymilvus_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # makes `import pymilvus` raise
    with pytest.raises(ImportError, match=r"pip install siamreid\[milvus\]"):
        create_backend("milvus", "flat")
    with pytest.raises(ImportError, match=r"pip install siamreid\[milvus\]"):
        Retriever(backend="milvus")


@pytest.mark.parametrize("uri", ["gallery", "s3://bucket/x.db2", ""])
def test_index_options_reject_a_uri_that_is_neither_a_store_nor_a_server(uri: str) -> None:
    with pytest.raises(ConfigError, match=r"IndexOptions\.uri=.*'\.db'.*http://host:19530"):
        IndexOptions(uri=uri)


def test_index_options_keep_the_uri_and_collection_through_a_round_trip() -> None:
    options = IndexOptions(uri="http://localhost:19530", collection="people_v2")
    assert IndexOptions.from_dict(options.to_dict()) == options
    with pytest.raises(ConfigError, match=r"IndexOptions\.collection"):
        IndexOptions(collection="2 bad")
