"""Retrieval speed, memory and recall: exact (torch, faiss flat) vs approximate (IVF, HNSW).

Galleries of 100k and 1M synthetic 512-d embeddings shaped like a re-id gallery (clusters of
~10 images per person, queries are new images of gallery people). For each backend it reports
build time, the memory the index adds beyond the stored embeddings (growth of the process RSS
while building), batched queries per second, and recall@10 against exact torch search.

Exact search is set against the machine's matrix-multiply speed measured in the same run (a
float32 ``torch.mm`` of the shape the torch backend's distance tiles have): *of GEMM* is the
search's FLOP rate (``2 * queries * gallery * dim`` per search) over that. faiss flat is run as
faiss ships it and with its BLAS path forced, to show where its time goes; the BLAS libraries
loaded and their kernels are read with threadpoolctl. The run does not change
``OPENBLAS_CORETYPE``; the note says what it was.

Runs in about 15-20 minutes on 2 loaded cores (HNSW is built at 100k only: at 1M its build
takes longer than the whole run; see the deployment guide for when to pick which); ``--quick``
takes a minute. Writes the ``retrieval`` section of docs/benchmarks.md.

    python benchmarks/bench_retrieval.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from _report import markdown_table, write_section

from siamreid.retrieval import (
    BackendName,
    IndexKind,
    IndexOptions,
    Retriever,
    SearchResult,
    torch_backend,
)
from siamreid.retrieval.backends import QUERY_BLOCK, FaissBackend

K = 10
DIM = 512


@dataclass(frozen=True)
class Setup:
    label: str
    backend: BackendName
    index: IndexKind
    options: IndexOptions = field(default_factory=IndexOptions)
    max_size: int = 10**9  # largest gallery this setup is built for within the time budget
    # search-time variants measured on the same built index: (label, change to the index)
    variants: tuple[tuple[str, Callable[[Any], None]], ...] = ()
    blas_tiles: tuple[int, int] | None = FaissBackend.blas_tiles  # faiss flat's tiles
    topk_select: bool = False  # torch flat: torch.topk on each tile (the selection before)
    repeats: int = 1  # exact searches timed, each right after its own GEMM; the median is kept


def _set(attr: str, value: int) -> Callable[[Any], None]:
    def apply(index: Any) -> None:
        obj = index.hnsw if attr == "efSearch" else index
        setattr(obj, attr, value)

    return apply


SETUPS = [
    Setup("torch flat (exact, default)", "torch", "flat", repeats=3),
    Setup(
        "torch flat (exact), torch.topk on each tile (the selection before)",
        "torch",
        "flat",
        topk_select=True,
        repeats=3,
    ),
    Setup("faiss flat (exact), faiss's own settings", "faiss", "flat", blas_tiles=None),
    Setup(
        "faiss flat (exact), BLAS on faiss's 4,096 x 1,024 tiles",
        "faiss",
        "flat",
        blas_tiles=(4096, 1024),
    ),
    Setup("faiss flat (exact, default: BLAS on 512 x 65,536 tiles)", "faiss", "flat", repeats=3),
    Setup(
        "faiss ivf, nprobe = nlist/4 (default)",
        "faiss",
        "ivf",
        variants=(("faiss ivf, nprobe=16 (old default)", _set("nprobe", 16)),),
    ),
    Setup(
        "faiss hnsw, M=32, ef=128 (default)",
        "faiss",
        "hnsw",
        max_size=100_000,
        variants=(("faiss hnsw, M=32, ef=64 (old default)", _set("efSearch", 64)),),
    ),
]


@dataclass(frozen=True)
class Row:
    size: int
    label: str
    queries: int
    build_s: float
    extra_mib: float
    qps: float
    recall: float | None
    gemm: float | None = None  # torch.mm GFLOP/s timed right before the search


def rss_mib() -> float:
    """Resident memory of this process (Linux), in MiB, after returning freed heap to the OS."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def clustered(
    n: int, num_queries: int, dim: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A gallery of ``n`` points around ``n / 10`` people, and queries of the same people."""
    centres = torch.randn(max(1, n // 10), dim, generator=gen)
    gallery, queries = torch.empty(n, dim), torch.empty(num_queries, dim)
    for out in (gallery, queries):
        for rows in torch.split(out, 65536):  # in chunks, so no second full-size temporary
            labels = torch.randint(len(centres), (len(rows),), generator=gen)
            torch.randn(rows.shape, generator=gen, out=rows).mul_(0.5).add_(centres[labels])
    return gallery, queries


def recall_at_k(found: SearchResult, exact: SearchResult) -> float:
    hits = [
        len(set(f) & set(e))
        for f, e in zip(found.indices.tolist(), exact.indices.tolist(), strict=True)
    ]
    return sum(hits) / (len(hits) * exact.k)


def gemm_gflops(rows: int, cols: int, dim: int, seconds: float = 3.0) -> float:
    """float32 ``[rows, dim] @ [dim, cols]`` GFLOP/s with the torch backend's operand layout,
    into one reused output (a fresh output per multiply adds page faults, not arithmetic)."""
    a, b, out = torch.randn(rows, dim), torch.randn(cols, dim), torch.empty(rows, cols)
    torch.mm(a, b.T, out=out)  # warm-up
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b.T, out=out)
        reps += 1
    return 2 * rows * cols * dim * reps / (time.perf_counter() - start) / 1e9


def timed_search(retriever: Retriever, queries: torch.Tensor) -> tuple[float, SearchResult]:
    retriever.search(queries[:4], k=K)  # warm-up
    start = time.perf_counter()
    result = retriever.search(queries, k=K)
    return len(queries) / (time.perf_counter() - start), result


@contextlib.contextmanager
def topk_selection(enabled: bool) -> Iterator[None]:
    """The torch backend picking each tile's k nearest with ``torch.topk``, as it did before."""
    if not enabled:
        yield
        return
    fast = torch_backend._smallest_k
    torch_backend._smallest_k = torch_backend._stable_topk
    try:
        yield
    finally:
        torch_backend._smallest_k = fast


def tile_shape(num_queries: int, size: int) -> tuple[int, int]:
    """Queries and gallery rows of one distance tile of the torch backend."""
    q_block = min(num_queries, QUERY_BLOCK)
    return q_block, min(size, IndexOptions().max_chunk_elements // q_block)


def measure(
    setup: Setup, gallery: torch.Tensor, queries: torch.Tensor, exact: SearchResult | None
) -> tuple[list[Row], SearchResult]:
    retriever = Retriever(backend=setup.backend, index=setup.index, options=setup.options)
    retriever.add(gallery, ids=torch.arange(len(gallery)))
    gc.collect()
    before, t0 = rss_mib(), time.perf_counter()
    retriever.build()
    build_s, extra = time.perf_counter() - t0, max(0.0, rss_mib() - before)
    if isinstance(retriever._backend, FaissBackend):
        retriever._backend.blas_tiles = setup.blas_tiles
    # the cores are shared: time the matrix multiply right before each exact search, and keep
    # the search whose speed over its GEMM's is the median of the repeats
    timings: list[tuple[float, float | None, SearchResult]] = []
    for _ in range(setup.repeats):
        gemm = None
        if setup.index == "flat":
            gemm = gemm_gflops(*tile_shape(len(queries), len(gallery)), gallery.shape[1])
        with topk_selection(setup.topk_select):
            qps, result = timed_search(retriever, queries)
        timings.append((qps, gemm, result))
    timings.sort(key=lambda t: t[0] / t[1] if t[1] else t[0])
    qps, gemm, result = timings[len(timings) // 2]
    recall = None if exact is None else recall_at_k(result, exact)
    n, q = len(gallery), len(queries)
    rows = [Row(n, setup.label, q, build_s, extra, qps, recall, gemm)]
    for label, change in setup.variants:
        change(retriever._backend._index)  # type: ignore[attr-defined]
        v_qps, v_result = timed_search(retriever, queries)
        v_recall = None if exact is None else recall_at_k(v_result, exact)
        rows.append(Row(n, label, q, build_s, extra, v_qps, v_recall))
    return rows, result


def run_size(size: int, num_queries: int, dim: int, seed: int) -> list[Row]:
    gen = torch.Generator().manual_seed(seed)
    gallery, queries = clustered(size, num_queries, dim, gen)
    rows: list[Row] = []
    exact: SearchResult | None = None
    for setup in SETUPS:
        if size > setup.max_size:
            continue
        new_rows, result = measure(setup, gallery, queries, exact)
        exact = exact or result
        rows += new_rows
        for row in new_rows:
            print(cells(row), flush=True)
        gc.collect()
    return rows


HEADERS = [
    "gallery", "index", "build s", "extra MiB", "queries", "queries/s", "GEMM GFLOP/s", "of GEMM",
    "recall@10",
]  # fmt: skip


def cells(row: Row) -> list[str]:
    recall = "exact" if row.recall is None else f"{row.recall:.3f}"
    gemm, of_gemm = "", ""
    if row.gemm is not None:
        search_gflops = row.qps * 2 * row.size * DIM / 1e9
        gemm, of_gemm = f"{row.gemm:.1f}", f"{search_gflops / row.gemm:.2f}"
    return [
        f"{row.size:,}", row.label, f"{row.build_s:.1f}", f"{row.extra_mib:.0f}",
        str(row.queries), f"{row.qps:,.1f}", gemm, of_gemm, recall,
    ]  # fmt: skip


def blas_summary() -> str:
    """The BLAS/OpenMP libraries loaded, with kernel and threads (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    parts = []
    for lib in threadpool_info():
        name = Path(lib["filepath"]).name.split("-")[0].split(".so")[0]
        arch = f", {lib['architecture']} kernel" if lib.get("architecture") else ""
        parts.append(f"{lib['internal_api']} ({name}{arch}, {lib['num_threads']} threads)")
    return "; ".join(parts)


def note(dim: int, seconds: float) -> str:
    import faiss

    coretype = os.environ.get("OPENBLAS_CORETYPE")
    return (
        f"Synthetic {dim}-d embeddings shaped like a re-id gallery (clusters of ~10 images per "
        f"person; queries are new images of gallery people), k={K}, all queries searched as one "
        f"batch, {torch.get_num_threads()} torch threads and {faiss.omp_get_max_threads()} "
        f"faiss threads; whole run {seconds:.0f} s. *GEMM GFLOP/s*: a float32 `torch.mm` of the "
        "torch backend's tile shape into one reused output, timed right before each exact "
        "search (the 2 cores are shared with other work, so speeds move between rows: "
        "compare *of GEMM*, the exact "
        "search's FLOP rate, 2 x queries x gallery x dim per search, over that). *extra MiB*: "
        f"memory the index adds beyond the stored embeddings ({dim * 4e6 / 2**30:.1f} GiB at "
        "1M), as RSS growth while building. *recall@10*: against exact torch search. Old "
        f"defaults are measured on the same built index. BLAS loaded: {blas_summary()}. "
        f"OPENBLAS_CORETYPE was {'unset' if coretype is None else repr(coretype)} and this run "
        f"does not change it. faiss {faiss.__version__} ships `distance_compute_blas_threshold` "
        f"= {faiss.cvar.distance_compute_blas_threshold}: batches of fewer queries than that take "
        "its one-query-at-a-time path, which streams the whole gallery from memory once per "
        "query; its BLAS path multiplies 1,024 gallery rows at a time. `FaissBackend` flat now "
        "takes the BLAS path from 20 queries on, on 512 x 65,536 tiles. The torch backend "
        "writes every tile into one buffer and finds each tile's k nearest from its minima "
        "over blocks of 64 columns; the row after it is the same search with `torch.topk` on "
        "each tile, as before. Those two rows and faiss flat's default are each the median of "
        "three searches, each timed right after its own GEMM (by speed over that GEMM). HNSW "
        "is built at 100k "
        "only (at 1M its build takes longer than the whole run on these cores)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small galleries, a minute")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import faiss  # optional extra; the benchmark needs it

    faiss.omp_set_num_threads(args.threads)
    plan = [(5_000, 100), (20_000, 100)] if args.quick else [(100_000, 500), (1_000_000, 200)]
    start = time.perf_counter()
    rows: list[Row] = []
    for size, queries in plan:
        rows += run_size(size, queries, DIM, seed=size)
    text = note(DIM, time.perf_counter() - start)
    body = "## Retrieval (`bench_retrieval.py`)\n\n" + text + "\n\n"
    body += markdown_table(HEADERS, [cells(r) for r in rows])
    print(body)
    if not args.no_write and not args.quick:
        write_section("retrieval", body)


if __name__ == "__main__":
    main()
