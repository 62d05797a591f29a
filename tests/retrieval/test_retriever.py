"""Retriever: ids, cameras and paths follow the neighbours; add, remove, cosine, images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from reference_knn import FakeEmbedder, reference_knn

from siamreid.errors import ConfigError, IndexFormatError
from siamreid.retrieval import IndexOptions, Retriever

BACKENDS = [("torch", "flat"), ("faiss", "flat")]


def make_retriever(backend: str, **kwargs: object) -> Retriever:
    if backend == "faiss":
        pytest.importorskip("faiss")
    return Retriever(backend=backend, **kwargs)  # type: ignore[arg-type]


def random_gallery(n: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen), torch.randint(0, max(1, n // 3), (n,), generator=gen)


@pytest.mark.parametrize(("backend", "index"), BACKENDS)
def test_search_reports_ids_cameras_and_paths_of_the_reference_neighbours(
    backend: str, index: str
) -> None:
    emb, ids = random_gallery(200, 16, seed=0)
    camids = torch.arange(200) % 6
    paths = [f"g/{i:04d}.jpg" for i in range(200)]
    retriever = make_retriever(backend, index=index)
    retriever.add(emb, ids=ids, camids=camids, paths=paths)
    queries = torch.randn(7, 16, generator=torch.Generator().manual_seed(1))
    result = retriever.search(queries, k=5)
    ref_dist, ref_idx = reference_knn(queries, emb, 5)
    np.testing.assert_array_equal(result.indices.numpy(), ref_idx)
    np.testing.assert_allclose(result.distances.numpy(), ref_dist, rtol=1e-4)
    assert result.ids.tolist() == ids[torch.from_numpy(ref_idx)].tolist()
    assert result.camids is not None
    assert result.camids.tolist() == (torch.from_numpy(ref_idx) % 6).tolist()
    assert result.paths == [[paths[j] for j in row] for row in ref_idx.tolist()]
    assert (len(result), result.k) == (7, 5)


def test_k_is_clamped_to_the_gallery_and_an_empty_gallery_returns_nothing() -> None:
    retriever = Retriever()
    assert retriever.search(torch.randn(3, 4), k=5).distances.shape == (3, 0)
    retriever.add(torch.randn(4, 4), ids=[1, 2, 3, 4])
    result = retriever.search(torch.randn(2, 4), k=10)
    assert result.k == 4
    assert sorted(result.ids[0].tolist()) == [1, 2, 3, 4]
    assert result.camids is None
    assert result.paths is None


@pytest.mark.parametrize("k", [0, -1, 2.0, True])
def test_k_must_be_a_positive_integer(k: object) -> None:
    retriever = Retriever()
    retriever.add(torch.randn(4, 4), ids=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        retriever.search(torch.randn(1, 4), k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize(("backend", "index"), BACKENDS)
@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 80),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_remove_drops_every_entry_of_the_ids_and_keeps_the_rest_searchable(
    backend: str, index: str, n: int, seed: int, data: st.DataObject
) -> None:
    emb, ids = random_gallery(n, 8, seed)
    doomed = data.draw(st.lists(st.integers(0, n // 3 + 1), max_size=5))
    retriever = make_retriever(backend, index=index)
    retriever.add(emb[: n // 2], ids=ids[: n // 2], paths=[str(i) for i in range(n // 2)])
    retriever.search(emb[:1], k=3)  # index built before the removal: it must be rebuilt
    retriever.add(emb[n // 2 :], ids=ids[n // 2 :], paths=[str(i) for i in range(n // 2, n)])
    keep = ~torch.isin(ids, torch.tensor(doomed, dtype=torch.long))
    assert retriever.remove(doomed) == int((~keep).sum())
    assert len(retriever) == int(keep.sum())
    assert torch.equal(retriever.ids, ids[keep])
    if not keep.any():
        return
    queries = torch.randn(4, 8, generator=torch.Generator().manual_seed(seed + 1))
    result = retriever.search(queries, k=5)
    _, ref_idx = reference_knn(queries, emb[keep], min(5, int(keep.sum())))
    kept_rows = keep.nonzero().flatten()
    assert result.indices.tolist() == ref_idx.tolist()
    assert result.paths == [[str(int(kept_rows[j])) for j in row] for row in ref_idx.tolist()]
    assert not set(result.ids.flatten().tolist()) & set(doomed)


def test_faiss_answers_like_torch_while_adds_and_searches_interleave() -> None:
    pytest.importorskip("faiss")
    emb, ids = random_gallery(300, 12, seed=5)
    exact, fast = Retriever(), Retriever(backend="faiss")
    queries = torch.randn(9, 12, generator=torch.Generator().manual_seed(6))
    for start in range(0, 300, 70):
        for retriever in (exact, fast):
            retriever.add(emb[start : start + 70], ids=ids[start : start + 70])
        assert torch.equal(fast.search(queries, k=8).indices, exact.search(queries, k=8).indices)


def test_cosine_metric_ranks_by_angle_and_reports_unit_vector_distances() -> None:
    emb, ids = random_gallery(100, 10, seed=7)
    scales = torch.rand(100, 1, generator=torch.Generator().manual_seed(8)) * 10 + 0.1
    retriever = Retriever(metric="cosine")
    retriever.add(emb * scales, ids=ids)
    queries = torch.randn(5, 10, generator=torch.Generator().manual_seed(9))
    result = retriever.search(queries * 3.0, k=6)
    unit = torch.nn.functional.normalize
    _, ref_idx = reference_knn(unit(queries, dim=1), unit(emb, dim=1), 6)
    assert result.indices.tolist() == ref_idx.tolist()
    cosine = unit(queries, dim=1) @ unit(emb, dim=1).T
    expected = cosine.gather(1, result.indices)
    torch.testing.assert_close(1 - result.distances**2 / 2, expected, atol=1e-5, rtol=1e-5)


def test_euclidean_metric_is_not_scale_invariant() -> None:
    retriever = Retriever()
    retriever.add(torch.tensor([[1.0, 0.0], [10.0, 1.0]]), ids=[0, 1])
    assert retriever.search(torch.tensor([9.0, 0.0]), k=1).ids.item() == 1
    cosine = Retriever(metric="cosine")
    cosine.add(torch.tensor([[1.0, 0.0], [10.0, 1.0]]), ids=[0, 1])
    assert cosine.search(torch.tensor([9.0, 0.0]), k=1).ids.item() == 0


@pytest.fixture
def image_files(tmp_path: Path) -> list[Path]:
    paths = []
    for i, colour in enumerate([(250, 10, 10), (10, 250, 10), (10, 10, 250), (128, 128, 0)]):
        array = np.zeros((16, 8, 3), dtype=np.uint8) + np.array(colour, dtype=np.uint8)
        array[::2] //= 2  # stripes give the std channels something to measure
        path = tmp_path / f"person_{i}.png"
        Image.fromarray(array).save(path)
        paths.append(path)
    return paths


def test_images_are_embedded_and_their_paths_kept(image_files: list[Path]) -> None:
    embedder = FakeEmbedder()
    retriever = Retriever(embedder)
    retriever.add(image_files, ids=[10, 11, 12, 13], batch_size=2)
    assert embedder.batch_sizes == [2]
    assert retriever.embedding_dim == 6
    result = retriever.search(Image.open(image_files[2]), k=2)
    assert result.ids[0, 0].item() == 12
    assert result.distances[0, 0].item() == pytest.approx(0.0, abs=1e-6)
    assert result.paths is not None
    assert result.paths[0][0] == str(image_files[2])
    hwc = np.asarray(Image.open(image_files[1]))
    assert retriever.search([hwc], k=1).ids.item() == 11


def test_images_without_an_embedder_say_how_to_fix(image_files: list[Path]) -> None:
    retriever = Retriever()
    with pytest.raises(ConfigError, match=r"no embedder.*Retriever\(embedder=model\)"):
        retriever.add(image_files, ids=[1, 2, 3, 4])
    with pytest.raises(ConfigError, match="no embedder"):
        retriever.search(torch.zeros(1, 3, 8, 4))
    assert len(retriever) == 0


def test_wrong_query_dimension_names_both_and_loses_nothing() -> None:
    retriever = Retriever()
    retriever.add(torch.randn(5, 8), ids=[0, 1, 2, 3, 4])
    before = retriever.search(torch.randn(2, 8, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(IndexFormatError, match=r"dimension 12.*dimension-8"):
        retriever.search(torch.randn(2, 12))
    with pytest.raises(IndexFormatError, match=r"dimension 4.*dimension-8"):
        retriever.add(torch.randn(1, 4), ids=[9])
    after = retriever.search(torch.randn(2, 8, generator=torch.Generator().manual_seed(0)))
    assert len(retriever) == 5
    assert torch.equal(before.indices, after.indices)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ids": [1.5, 2.0]}, "ids must be integers"),
        ({"ids": [1, 2, 3]}, r"ids must be a 1-D sequence of 2 integers"),
        ({"ids": [1, 2], "camids": [0]}, r"camids must be a 1-D sequence of 2"),
        ({"ids": [1, 2], "paths": ["a.jpg"]}, r"paths has 1 entries for 2"),
        ({"ids": [1, 2], "camids": [0, 1], "paths": ["a", "b"]}, r"have no paths"),
        ({"ids": [1, 2]}, r"have camids; pass camids"),
    ],
)
def test_bad_columns_are_rejected_before_anything_is_added(
    kwargs: dict[str, object], message: str
) -> None:
    retriever = Retriever()
    retriever.add(torch.randn(3, 4), ids=[0, 0, 1], camids=[0, 1, 2])
    with pytest.raises(ValueError, match=message):
        retriever.add(torch.randn(2, 4), **kwargs)  # type: ignore[arg-type]
    assert len(retriever) == 3
    assert retriever.embeddings.shape == (3, 4)


def test_non_finite_embeddings_are_rejected() -> None:
    retriever = Retriever()
    with pytest.raises(ValueError, match="NaN or infinite"):
        retriever.add(torch.tensor([[0.0, float("nan")]]), ids=[1])
    assert len(retriever) == 0


def test_numpy_embeddings_and_many_small_adds_are_accepted() -> None:
    emb = np.random.default_rng(0).normal(size=(30, 5))
    retriever = Retriever()
    for row, pid in zip(emb, range(30), strict=True):
        retriever.add(row, ids=pid)  # a 1-D vector and a scalar id: one entry
    assert len(retriever) == 30
    torch.testing.assert_close(retriever.embeddings, torch.from_numpy(emb).float())
    assert retriever.search(emb[17], k=1).ids.item() == 17


def test_approximate_index_marks_missing_neighbours() -> None:
    pytest.importorskip("faiss")
    gen = torch.Generator().manual_seed(3)
    centres = torch.randn(10, 8, generator=gen) * 20
    emb = centres.repeat_interleave(40, dim=0) + torch.randn(400, 8, generator=gen)
    retriever = Retriever(backend="faiss", index="ivf", options=IndexOptions(nlist=10, nprobe=1))
    retriever.add(emb, ids=torch.arange(400), paths=[str(i) for i in range(400)])
    result = retriever.search(emb[:1], k=400)
    missing = result.indices[0] < 0
    assert 0 < int(missing.sum()) < 400
    assert (result.ids[0][missing] == -1).all()
    assert torch.isinf(result.distances[0][missing]).all()
    assert result.paths is not None
    assert {result.paths[0][j] for j in missing.nonzero().flatten().tolist()} == {""}


def test_the_gallery_keeps_its_own_copy_of_added_embeddings() -> None:
    buffer = torch.eye(3)
    retriever = Retriever()
    retriever.add(buffer, ids=[0, 1, 2])
    buffer.zero_()  # the caller reuses its buffer
    assert torch.equal(retriever.embeddings, torch.eye(3))
    assert retriever.search(torch.eye(3)[2], k=1).ids.item() == 2


def test_reading_an_empty_gallery_does_not_fix_its_width() -> None:
    retriever = Retriever()
    assert retriever.embeddings.shape == (0, 0)
    assert retriever.ids.shape == (0,)
    retriever.add(torch.randn(2, 5), ids=[1, 2])
    retriever.remove([1, 2])
    assert retriever.embeddings.shape == (0, 5)
    retriever.add(torch.randn(1, 5), ids=[3], camids=[0])  # columns may change once empty
    assert retriever.search(torch.randn(5), k=3).ids.tolist() == [[3]]
    with pytest.raises(ValueError, match=r"\[N, D\] embeddings with D >= 1"):
        retriever.add(torch.empty(2, 0), ids=[4, 5])
