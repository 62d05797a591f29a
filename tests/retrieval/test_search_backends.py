"""Backends against the numpy reference: torch is exact with stable ties, faiss flat agrees."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference_knn import assert_exact_knn, canonical_rows, reference_knn, squared_distances

from siamreid.errors import ConfigError
from siamreid.retrieval import FaissBackend, IndexOptions, TorchBackend, create_backend
from siamreid.retrieval.backends import default_nlist

needs_faiss = pytest.mark.usefixtures("faiss_installed")


@pytest.fixture(scope="module")
def faiss_installed() -> None:
    pytest.importorskip("faiss")


@st.composite
def integer_problems(draw: st.DrawFn, low: int = -3, high: int = 3) -> tuple[torch.Tensor, ...]:
    """Small-integer gallery and queries: distances are exact in float32 and ties are common."""
    n = draw(st.integers(1, 60))
    d = draw(st.integers(1, 12))
    q = draw(st.integers(1, 25))
    elements = st.integers(low, high)
    gallery = draw(hnp.arrays(np.int8, (n, d), elements=elements))
    queries = draw(hnp.arrays(np.int8, (q, d), elements=elements))
    k = draw(st.integers(1, n))
    return torch.from_numpy(gallery).float(), torch.from_numpy(queries).float(), torch.tensor(k)


def run(backend: object, gallery: torch.Tensor, queries: torch.Tensor, k: int) -> tuple:
    backend.sync(gallery, start=0)  # type: ignore[attr-defined]
    dist, idx = backend.search(queries, k)  # type: ignore[attr-defined]
    return dist.numpy(), idx.numpy()


@settings(max_examples=150, deadline=None)
@given(problem=integer_problems(), chunk=st.sampled_from([1, 7, 2**25]))
def test_torch_equals_reference_including_tie_order(problem: tuple, chunk: int) -> None:
    gallery, queries, k = problem
    backend = TorchBackend(IndexOptions(max_chunk_elements=chunk))
    dist, idx = run(backend, gallery, queries, int(k))
    ref_dist, ref_idx = reference_knn(queries, gallery, int(k))
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-6, atol=1e-6)


@needs_faiss
@settings(max_examples=100, deadline=None)
@given(problem=integer_problems(low=-6, high=6))
def test_faiss_flat_and_torch_return_identical_neighbours(problem: tuple) -> None:
    gallery, queries, k = problem
    sq = squared_distances(queries, gallery)
    t_dist, t_idx = run(TorchBackend(), gallery, queries, int(k))
    f_dist, f_idx = run(FaissBackend("flat"), gallery, queries, int(k))
    assert_exact_knn(sq, f_dist, f_idx)
    assert canonical_rows(sq, f_idx) == canonical_rows(sq, t_idx)
    np.testing.assert_allclose(f_dist, t_dist, rtol=1e-5, atol=1e-5)


@needs_faiss
def test_faiss_flat_matches_torch_on_tie_free_float_data() -> None:
    gen = torch.Generator().manual_seed(0)
    gallery, queries = torch.randn(3000, 64, generator=gen), torch.randn(50, 64, generator=gen)
    t_dist, t_idx = run(TorchBackend(IndexOptions(max_chunk_elements=10_000)), gallery, queries, 10)
    f_dist, f_idx = run(FaissBackend("flat"), gallery, queries, 10)
    np.testing.assert_array_equal(f_idx, t_idx)
    np.testing.assert_allclose(f_dist, t_dist, rtol=1e-4)


@needs_faiss
@settings(max_examples=40, deadline=None)
@given(problem=integer_problems(low=-6, high=6))
def test_ivf_probing_every_list_is_exact(problem: tuple) -> None:
    gallery, queries, k = problem
    backend = FaissBackend("ivf", IndexOptions(nlist=1 + len(gallery) // 20, nprobe=64))
    dist, idx = run(backend, gallery, queries, int(k))
    assert_exact_knn(squared_distances(queries, gallery), dist, idx)


def clustered(n: int, dim: int, seed: int) -> torch.Tensor:
    """Gaussian clusters of ~10 points, like the images of one person in a gallery."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(max(1, n // 10), dim, generator=gen)
    labels = torch.randint(len(centres), (n,), generator=gen)
    return centres[labels] + 0.3 * torch.randn(n, dim, generator=gen)


@needs_faiss
@pytest.mark.parametrize(
    ("index", "options"),
    [("hnsw", IndexOptions(ef_search=128)), ("ivf", IndexOptions(nprobe=4))],
)
def test_approximate_indexes_reach_high_recall_on_clustered_data(
    index: str, options: IndexOptions
) -> None:
    points = clustered(2100, 32, seed=1)  # queries: new images of the gallery's people
    gallery, queries = points[:2000], points[2000:]
    _, exact = run(TorchBackend(), gallery, queries, 10)
    _, approx = run(FaissBackend(index, options), gallery, queries, 10)  # type: ignore[arg-type]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.9


@needs_faiss
def test_faiss_sync_appends_without_rebuilding_and_rebuilds_from_zero() -> None:
    gallery = clustered(300, 8, seed=3)
    backend = FaissBackend("flat")
    backend.sync(gallery[:100], start=0)
    first_index = backend._index
    backend.sync(gallery, start=100)
    assert backend._index is first_index
    assert backend._index.ntotal == 300
    backend.sync(gallery[:50], start=0)
    assert backend._index is not first_index
    assert backend._index.ntotal == 50


@needs_faiss
def test_ivf_nlist_defaults_to_about_sqrt_n_and_records_it() -> None:
    backend = FaissBackend("ivf")
    assert backend.nlist is None
    backend.sync(clustered(10_000, 4, seed=4), start=0)
    assert backend.nlist == 100


@given(n=st.integers(1, 10**7))
def test_default_nlist_is_near_sqrt_and_keeps_39_points_per_list(n: int) -> None:
    nlist = default_nlist(n)
    assert nlist >= 1
    assert nlist == 1 or n >= 39 * nlist  # faiss wants >= 39 training points per list
    assert nlist <= round(n**0.5)
    if n >= 39 * 39:
        assert nlist == round(n**0.5)


@needs_faiss
def test_ivf_with_more_lists_than_embeddings_says_how_to_fix() -> None:
    backend = FaissBackend("ivf", IndexOptions(nlist=50))
    with pytest.raises(ConfigError, match=r"nlist=50.*gallery has 10.*index='flat'"):
        backend.sync(torch.randn(10, 4), start=0)


@needs_faiss
def test_factory_builds_each_backend_and_rejects_bad_combinations() -> None:
    assert isinstance(create_backend("torch", "flat"), TorchBackend)
    hnsw = create_backend("faiss", "hnsw")
    assert isinstance(hnsw, FaissBackend)
    assert hnsw.index_kind == "hnsw"
    with pytest.raises(ConfigError, match=r"Unknown backend 'annoy'"):
        create_backend("annoy", "flat")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"Unknown index 'pq'"):
        create_backend("faiss", "pq")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"index='hnsw'.*backend='faiss'"):
        create_backend("torch", "hnsw")


def test_missing_faiss_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with pytest.raises(ImportError, match=r"pip install siamreid\[faiss\]"):
        create_backend("faiss", "flat")
    assert isinstance(create_backend("torch", "flat"), TorchBackend)


@pytest.mark.parametrize("field", ["nprobe", "hnsw_m", "ef_construction", "ef_search", "nlist"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_index_options_reject_non_positive_integers(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"IndexOptions\.{field} must be a positive integer"):
        IndexOptions(**{field: value})  # type: ignore[arg-type]


def test_index_options_round_trip_and_reject_unknown_keys() -> None:
    options = IndexOptions(nlist=12, nprobe=3, ef_search=9)
    assert IndexOptions.from_dict(options.to_dict()) == options
    with pytest.raises(ConfigError, match=r"Unknown IndexOptions field\(s\) \['probes'\]"):
        IndexOptions.from_dict({"probes": 3})


def tie_problem() -> tuple[torch.Tensor, torch.Tensor]:
    """Every point three times, in three far-apart slices; queries on and off the points."""
    gen = torch.Generator().manual_seed(5)
    base = torch.randn(600, 8, generator=gen)
    queries = torch.cat([base[:40], torch.randn(30, 8, generator=gen)])
    return torch.cat([base, base, base]), queries


def assert_ties_in_row_order(budgets: Sequence[int]) -> None:
    """Each tiling gives the reference's rows (copies in row order) and the same distances."""
    gallery, queries = tie_problem()
    sq = ((queries.double()[:, None] - gallery.double()[None]) ** 2).sum(-1)  # copies tie
    ref_idx = np.argsort(sq.numpy(), axis=1, kind="stable")[:, :7]
    results = [
        run(TorchBackend(IndexOptions(max_chunk_elements=b)), gallery, queries, 7) for b in budgets
    ]
    for budget, (dist, idx) in zip(budgets, results, strict=True):
        np.testing.assert_array_equal(idx, ref_idx, err_msg=f"max_chunk_elements={budget}")
        # per-pair distances: the same row gets the same value whatever its tile
        np.testing.assert_array_equal(dist, results[0][0], err_msg=f"budget={budget}")
    assert results[0][1][:40, :3].tolist() == [[i, i + 600, i + 1200] for i in range(40)]


# 2**12 distances at a time: at least QUERY_BLOCK queries would not fit, so each tile is all 70
# queries against 58 gallery rows, and the best of 32 slices are merged; 2**25: one tile
TILE_BUDGETS = (2**12, 2**10, 3000, 2**14, 2**25)


@pytest.mark.parametrize("threads", [1, 2])
def test_torch_slices_a_large_gallery_and_merges_ties_in_row_order(threads: int) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert_ties_in_row_order(TILE_BUDGETS)
    finally:
        torch.set_num_threads(before)


# other BLAS kernels, as other x86 CPUs pick them: MKL limited to AVX2 (an AMD EPYC's choice)
# or SSE4.2 rounds a row differently in different tile columns; OpenBLAS reads its core type
KERNELS = [
    {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell"},
    {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "MKL_CBWR": "COMPATIBLE"},
]


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda env: ",".join(env.values()))
def test_tie_order_holds_on_other_blas_kernels(kernel: dict[str, str]) -> None:
    script = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]); "
        "import test_search_backends as t\n"
        "for threads in (1, 2):\n"
        "    torch.set_num_threads(threads); t.assert_ties_in_row_order(t.TILE_BUDGETS)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "OPENBLAS_CORETYPE")}
    here = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", script, here],
        env={**env, **kernel},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@needs_faiss
def test_faiss_flat_uses_large_blas_tiles_and_restores_faiss_settings() -> None:
    import faiss

    before = (
        faiss.cvar.distance_compute_blas_threshold,
        faiss.cvar.distance_compute_blas_database_bs,
    )
    gen = torch.Generator().manual_seed(6)
    gallery, queries = torch.randn(700, 16, generator=gen), torch.randn(60, 16, generator=gen)
    tuned = FaissBackend("flat")
    tuned.blas_tiles = (8, 100)  # 60 queries >= 20: the BLAS path, on 8 x 100 tiles
    t_dist, t_idx = run(tuned, gallery, queries, 5)
    ref_dist, ref_idx = reference_knn(queries, gallery, 5)
    np.testing.assert_array_equal(t_idx, ref_idx)
    np.testing.assert_allclose(t_dist, ref_dist, rtol=1e-4, atol=1e-4)
    after = (
        faiss.cvar.distance_compute_blas_threshold,
        faiss.cvar.distance_compute_blas_database_bs,
    )
    assert after == before
