"""Retrieval speed, memory and recall: exact (torch, faiss flat) vs approximate (IVF, HNSW).

Galleries of 10k, 100k and 1M synthetic 512-d embeddings shaped like a re-id gallery (clusters of
~10 images per person, queries are new images of gallery people). For each backend it reports
build time, the memory the index adds beyond the stored embeddings (growth of the process RSS
while building), batched queries per second, and recall@10 against exact torch search.

Runs in about 4-5 minutes on 2 cores (HNSW is built up to 100k only: a 1M-entry HNSW graph takes
far longer to build on 2 cores than the whole budget); ``--quick`` takes seconds. Writes its
table into docs/benchmarks.md between ``<!-- bench:retrieval:start/end -->``.

    python benchmarks/bench_retrieval.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from siamreid.retrieval import BackendName, IndexKind, IndexOptions, Retriever, SearchResult

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START, END = "<!-- bench:retrieval:start -->", "<!-- bench:retrieval:end -->"
K = 10


@dataclass(frozen=True)
class Setup:
    label: str
    backend: BackendName
    index: IndexKind
    options: IndexOptions
    max_size: int  # largest gallery this setup is built for within the time budget


SETUPS = [
    Setup("torch flat (exact)", "torch", "flat", IndexOptions(), 10**9),
    Setup("faiss flat (exact)", "faiss", "flat", IndexOptions(), 10**9),
    Setup("faiss ivf, nprobe=16", "faiss", "ivf", IndexOptions(nprobe=16), 10**9),
    Setup("faiss hnsw, M=32, ef=64", "faiss", "hnsw", IndexOptions(hnsw_m=32), 100_000),
]


@dataclass(frozen=True)
class Row:
    size: int
    setup: Setup
    queries: int
    build_s: float
    extra_mib: float
    qps: float
    recall: float | None


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


def measure(
    setup: Setup, gallery: torch.Tensor, queries: torch.Tensor, exact: SearchResult | None
) -> tuple[Row, SearchResult]:
    retriever = Retriever(backend=setup.backend, index=setup.index, options=setup.options)
    retriever.add(gallery, ids=torch.arange(len(gallery)))
    gc.collect()
    before, t0 = rss_mib(), time.perf_counter()
    retriever.build()
    build_s, extra = time.perf_counter() - t0, rss_mib() - before
    retriever.search(queries[:4], k=K)  # warm-up
    t0 = time.perf_counter()
    result = retriever.search(queries, k=K)
    qps = len(queries) / (time.perf_counter() - t0)
    recall = None if exact is None else recall_at_k(result, exact)
    row = Row(len(gallery), setup, len(queries), build_s, max(0.0, extra), qps, recall)
    return row, result


def run_size(size: int, num_queries: int, dim: int, seed: int) -> list[Row]:
    gen = torch.Generator().manual_seed(seed)
    gallery, queries = clustered(size, num_queries, dim, gen)
    rows: list[Row] = []
    exact: SearchResult | None = None
    for setup in SETUPS:
        if size > setup.max_size:
            continue
        row, result = measure(setup, gallery, queries, exact)
        exact = exact or result
        rows.append(row)
        print(format_row(row), flush=True)
        gc.collect()
    return rows


COLUMNS = ["gallery", "index", "build s", "extra MiB", "queries", "queries/s", "recall@10"]


def format_row(row: Row) -> str:
    recall = "exact" if row.recall is None else f"{row.recall:.3f}"
    cells = [f"{row.size:,}", row.setup.label, f"{row.build_s:.2f}", f"{row.extra_mib:.0f}"]
    cells += [str(row.queries), f"{row.qps:,.0f}", recall]
    return "| " + " | ".join(cells) + " |"


def table(rows: list[Row], dim: int, seconds: float) -> str:
    note = (
        f"Synthetic {dim}-d embeddings shaped like a re-id gallery (clusters of ~10 images per "
        f"person; queries are new images of gallery people), k={K}, all queries searched as one "
        f"batch, {torch.get_num_threads()} threads on {platform.machine()}; whole run "
        f"{seconds:.0f} s. *extra MiB*: memory the index adds beyond the stored embeddings "
        f"({dim * 4} bytes per entry, {dim * 4e6 / 2**30:.1f} GiB at 1M), measured as RSS growth "
        "while building; the torch backend searches the stored embeddings themselves. "
        "*recall@10*: against exact torch search. HNSW is not built at 1M (its build alone "
        "exceeds the run's budget on 2 cores)."
    )
    head = ["| " + " | ".join(COLUMNS) + " |", "|---:|:---|" + "---:|" * 5]
    return "\n".join([note, "", *head, *(format_row(r) for r in rows)])


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace (or append) the retrieval section of docs/benchmarks.md."""
    section = f"{START}\n## Retrieval\n\n{text}\n{END}"
    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    if START in old and END in old:
        new = old[: old.index(START)] + section + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small galleries, seconds")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import faiss  # optional extra; the benchmark needs it

    faiss.omp_set_num_threads(args.threads)
    plan = (
        [(2_000, 100), (20_000, 100)]
        if args.quick
        else [(10_000, 1000), (100_000, 1000), (1_000_000, 200)]
    )
    start = time.perf_counter()
    rows = [row for size, queries in plan for row in run_size(size, queries, args.dim, seed=size)]
    text = table(rows, args.dim, time.perf_counter() - start)
    print(text)
    if not args.no_write and not args.quick:
        write_section(text)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
