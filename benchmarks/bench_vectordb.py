"""Embedded vector databases compared: Qdrant (qdrant-client local mode) vs Milvus (milvus-lite).

Both clients run embedded (no server) and talk to a server or cluster by URI with the same API;
this script measures the embedded mode on what a re-id gallery does: add 100k 512-d
embeddings with id, camera and path, search (k=10), search filtered by camera, delete 10% of the
people, search again, close and reopen the store. Each database runs in its own child process;
its peak memory is the child's peak RSS above its imports. Exactness is recall@10 against numpy
brute force.

The clients need not be in the project's environment: ``--python`` names an interpreter that has
numpy, ``qdrant-client``, ``pymilvus`` and ``milvus-lite`` (the children import nothing else)::

    python benchmarks/bench_vectordb.py [--python /tmp/vdbenv/bin/python] [--results LOG]

Each database gets ``--child-timeout`` seconds (4 minutes: at most about 15 minutes in all on
2 cores); milvus-lite takes most of a second a request, so it runs fewer queries per pass and
its FLAT index a smaller gallery. Writes the ``vectordb`` section of docs/benchmarks.md. A
child that fails or is stopped (a missing client, over 8 GiB of memory, out of time) is a table
row that says how far it got.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM, K, CAMERAS, NUM_QUERIES = 512, 10, 6, 100
CHOICE = """\
**Why Milvus, and what it costs.** Both embedded modes hold 100k re-id embeddings on these two
cores, and neither is fast: they are for development, tests and small galleries, and a gallery
that outgrows one machine lives on a server or cluster either way. Qdrant's local mode is the
faster plain search (numpy brute force over every point, exact; about 8x milvus-lite's rate at
100k, where every milvus-lite request takes about two seconds), but it evaluates a payload
filter and a delete by filter point by point in Python (camera-filtered search at a quarter of
its plain rate, a 10% delete in about 15 s against milvus-lite's 2 s), and on disk it commits
every point to SQLite on its own (100k points took over two minutes here, and 23 ms a point
on a busier disk in an earlier run: 40 minutes for 100k). We chose Milvus for what the
embedded mode tests: milvus-lite builds the same index kinds as a Milvus server and as our
faiss backends (FLAT, IVF_FLAT, HNSW, same parameters), where Qdrant's local mode ignores the
index configuration and always searches exactly, so CI would not exercise what a server runs;
milvus-lite persists through a write-ahead log and segment files; and Milvus filters and
deletes by expression (`camid in [...]`) the same way embedded and on a cluster, which shards
and replicates collections behind the same `MilvusClient(uri)`. What that costs shows in the
table: HNSW filtered by camera found 0.89 of the exact filtered neighbours (a filter removes
graph paths; `index="flat"`, or a larger `ef_search`, keeps filtered search exact), and
milvus-lite's brute force holds a `[queries, rows, dim]` array, so `MilvusBackend` bounds the
queries per request against an embedded store. If embedded speed matters more than testing the
server's index kinds, a Qdrant backend is one module (`siamreid.retrieval.backends.milvus`)."""


def data(size: int, seed: int = 0) -> dict[str, Any]:
    """A re-id-shaped gallery (~10 images per person) with cameras and paths, and queries."""
    rng = np.random.default_rng(seed)
    people = max(1, size // 10)
    centres = rng.standard_normal((people, DIM), dtype=np.float32)
    labels = rng.integers(people, size=size)
    gallery = centres[labels] + 0.5 * rng.standard_normal((size, DIM), dtype=np.float32)
    q_labels = rng.integers(people, size=NUM_QUERIES)
    queries = centres[q_labels] + 0.5 * rng.standard_normal((NUM_QUERIES, DIM), dtype=np.float32)
    return {
        "gallery": gallery,
        "ids": labels.astype(np.int64),
        "cams": rng.integers(CAMERAS, size=size).astype(np.int64),
        "queries": queries,
    }


def exact(gallery: np.ndarray, queries: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Rows of the ``K`` nearest gallery entries (brute force), restricted to ``mask``."""
    sq = (queries**2).sum(1)[:, None] - 2 * queries @ gallery.T + (gallery**2).sum(1)[None]
    if mask is not None:
        sq[:, ~mask] = np.inf
    return np.argsort(sq, axis=1, kind="stable")[:, :K]


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Qdrant:
    name = "Qdrant (qdrant-client local mode, on disk)"
    in_memory = False

    def open(self, path: str) -> None:
        from qdrant_client import QdrantClient, models

        self.m = models
        self.client = QdrantClient(":memory:") if self.in_memory else QdrantClient(path=path)
        self.collection = "gallery"

    def create(self) -> None:
        self.client.create_collection(
            self.collection,
            vectors_config=self.m.VectorParams(size=DIM, distance=self.m.Distance.EUCLID),
        )

    def add(self, rows: np.ndarray, vectors: np.ndarray, ids: np.ndarray, cams: np.ndarray) -> None:
        payload = [
            {"person": int(i), "camid": int(c), "path": f"img/{r:07d}.jpg"}
            for r, i, c in zip(rows, ids, cams, strict=True)
        ]
        for start in range(0, len(rows), 10_000):  # in batches, so that progress is reported
            end = start + 10_000
            self.client.upload_collection(
                self.collection,
                vectors=vectors[start:end],
                payload=payload[start:end],
                ids=rows[start:end].tolist(),
                batch_size=1024,
            )
            progress(f"added {min(end, len(rows)):,} rows")

    def search(self, queries: np.ndarray, camid: int | None = None) -> list[list[int]]:
        flt = None
        if camid is not None:
            cond = self.m.FieldCondition(key="camid", match=self.m.MatchValue(value=camid))
            flt = self.m.Filter(must=[cond])
        requests = [
            self.m.QueryRequest(query=q.tolist(), limit=K, filter=flt, with_payload=True)
            for q in queries
        ]
        answers = self.client.query_batch_points(self.collection, requests=requests)
        return [[int(p.id) for p in a.points] for a in answers]

    def delete(self, ids: list[int]) -> None:
        cond = self.m.FieldCondition(key="person", match=self.m.MatchAny(any=ids))
        selector = self.m.FilterSelector(filter=self.m.Filter(must=[cond]))
        self.client.delete(self.collection, points_selector=selector)

    def close(self) -> None:
        self.client.close()


class QdrantMemory(Qdrant):
    name = "Qdrant (qdrant-client local mode, `:memory:`)"
    in_memory = True


class Milvus:
    name = "Milvus (pymilvus + milvus-lite), FLAT"
    index_type = "FLAT"

    def open(self, path: str) -> None:
        from pymilvus import MilvusClient

        self.client = MilvusClient(os.path.join(path, "gallery.db"))
        self.collection = "gallery"

    def create(self) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("person", DataType.INT64)
        schema.add_field("camid", DataType.INT64)
        schema.add_field("path", DataType.VARCHAR, max_length=1024)
        index = self.client.prepare_index_params()
        params = {"M": 32, "efConstruction": 80} if self.index_type == "HNSW" else {}
        index.add_index("vector", index_type=self.index_type, metric_type="L2", params=params)
        self.client.create_collection(self.collection, schema=schema, index_params=index)

    def add(self, rows: np.ndarray, vectors: np.ndarray, ids: np.ndarray, cams: np.ndarray) -> None:
        for start in range(0, len(rows), 10_000):
            end = start + 10_000
            batch = [
                {
                    "row": int(r),
                    "vector": v,
                    "person": int(i),
                    "camid": int(c),
                    "path": f"img/{r:07d}",
                }
                for r, v, i, c in zip(
                    rows[start:end],
                    vectors[start:end],
                    ids[start:end],
                    cams[start:end],
                    strict=True,
                )
            ]
            self.client.insert(self.collection, batch)
            progress(f"added {min(end, len(rows)):,} rows")

    def search(self, queries: np.ndarray, camid: int | None = None) -> list[list[int]]:
        # milvus-lite's FLAT search broadcasts [queries, rows, dim]: one query per request
        # keeps that at 200 MB for 100k rows (100 queries at once would take 20 GB)
        per_request = 1  # its brute force (FLAT, and rows not yet indexed) does the same
        found = []
        for start in range(0, len(queries), per_request):
            answers = self.client.search(
                self.collection,
                data=[q.tolist() for q in queries[start : start + per_request]],
                limit=K,
                filter="" if camid is None else f"camid == {camid}",
                output_fields=["person", "camid", "path"],
                search_params={"params": {"ef": 128}} if self.index_type == "HNSW" else None,
            )
            found += [[int(hit.id) for hit in a] for a in answers]
        return found

    def delete(self, ids: list[int]) -> None:
        self.client.delete(self.collection, filter=f"person in {ids}")

    def close(self) -> None:
        self.client.close()


class MilvusHnsw(Milvus):
    name = "Milvus (pymilvus + milvus-lite), HNSW M=32 ef=128"
    index_type = "HNSW"


DATABASES: dict[str, type[Qdrant] | type[Milvus]] = {
    "qdrant": Qdrant,
    "qdrant-memory": QdrantMemory,
    "milvus": Milvus,
    "milvus-hnsw": MilvusHnsw,
}
_STARTED = time.perf_counter()


def progress(step: str) -> None:
    """A child's progress line on stderr: what the parent reports if the child runs out of time."""
    print(f"[{time.perf_counter() - _STARTED:.0f} s] {step}", file=sys.stderr, flush=True)


def watchdog(limit_mb: float = 8192) -> None:
    """Stop this process if its memory passes ``limit_mb`` (the machine is shared)."""

    def watch() -> None:
        while True:
            if rss_mb() > limit_mb:
                print(f"stopped: RSS above {limit_mb:.0f} MiB", file=sys.stderr, flush=True)
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def child(db_name: str, size: int, num_queries: int = NUM_QUERIES) -> dict[str, Any]:
    """Every operation on one database, timed; peak RSS above the state after imports."""
    watchdog()
    progress(f"{db_name}: {size:,} rows, {num_queries} queries")
    db = DATABASES[db_name]()
    d = data(size)
    gallery, ids, cams, queries = d["gallery"], d["ids"], d["cams"], d["queries"][:num_queries]
    rows = np.arange(size)
    truth = exact(gallery, queries)
    truth_cam = exact(gallery, queries, cams == 0)
    removed = sorted(set(ids.tolist()))[::10]
    keep = ~np.isin(ids, removed)
    truth_del = exact(gallery, queries, keep)
    folder = tempfile.mkdtemp(prefix=f"bench_{db_name}_")
    out: dict[str, Any] = {"name": db.name, "size": size, "queries": num_queries}
    try:
        t = time.perf_counter()
        db.open(folder)
        db.create()
        out["open_s"] = time.perf_counter() - t
        base = rss_mb()
        Path("/proc/self/clear_refs").write_text("5")
        t = time.perf_counter()
        db.add(rows, gallery, ids, cams)
        out["add_s"] = time.perf_counter() - t
        progress("searching")
        db.search(queries[:2])  # warm-up (loads the collection)
        t = time.perf_counter()
        found = db.search(queries)
        out["search_qps"] = num_queries / (time.perf_counter() - t)
        out["recall"] = recall(found, truth)
        t = time.perf_counter()
        found = db.search(queries, camid=0)
        out["filter_qps"] = num_queries / (time.perf_counter() - t)
        out["filter_recall"] = recall(found, truth_cam)
        progress("deleting")
        t = time.perf_counter()
        db.delete([int(i) for i in removed])
        out["delete_s"] = time.perf_counter() - t
        found = db.search(queries)
        out["delete_recall"] = recall(found, truth_del)
        out["peak_mb"] = rss_mb("VmHWM") - base
        db.close()
        if not getattr(db, "in_memory", False):  # an in-memory store has nothing to reopen
            progress("reopening")
            t = time.perf_counter()
            db.open(folder)
            found = db.search(queries)
            out["reopen_s"] = time.perf_counter() - t
            out["reopen_recall"] = recall(found, truth_del)
            db.close()
        out["disk_mb"] = (
            sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 2**20
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def saved_results(log: Path) -> list[dict[str, Any]]:
    """The result dicts a previous run printed, one a line, in its order."""
    lines = log.read_text().splitlines()
    return [ast.literal_eval(line) for line in lines if line.startswith("{'name'")]


def table_row(r: dict[str, Any]) -> list[str]:
    if "failed" in r:
        return [r["name"], f"{r['size']:,}", "", f"failed: {r['failed']}"] + [""] * 9
    reopen = f"{r['reopen_s']:.1f}" if "reopen_s" in r else "n/a (in memory)"
    return [
        r["name"], f"{r['size']:,}", str(r.get("queries", NUM_QUERIES)), f"{r['add_s']:.1f}",
        f"{r['search_qps']:.1f}", f"{r['recall']:.3f}", f"{r['filter_qps']:.1f}",
        f"{r['filter_recall']:.3f}", f"{r['delete_s']:.2f}", f"{r['delete_recall']:.3f}", reopen,
        f"{r['peak_mb']:.0f}", f"{r['disk_mb']:.0f}",
    ]  # fmt: skip


def versions(python: str) -> str:
    code = (
        "from importlib.metadata import version as v;"
        "print(', '.join(f'{p} {v(p)}' for p in ('qdrant-client','pymilvus','milvus-lite')))"
    )
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def run_child(python: str, name: str, size: int, queries: int, timeout: float) -> dict[str, Any]:
    """One database in its own process, stopped after ``timeout`` seconds (the machine is shared).

    A child that fails or runs out of time is a result too: ``failed`` says why, or how far it
    got (its last progress line).
    """
    command = [python, __file__, "--child", name, "--size", str(size), "--queries", str(queries)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        lines = (err.stderr.decode() if isinstance(err.stderr, bytes) else err.stderr or "").strip()
        last = "; ".join(lines.splitlines()[-2:]) or "no progress"
        failed = f"stopped at {timeout:.0f} s; {last}"
        return {"name": DATABASES[name].name, "size": size, "failed": failed}
    if proc.returncode != 0:  # recorded, not fatal: a store may run out of memory
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1][:120]
        return {"name": DATABASES[name].name, "size": size, "failed": reason}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter with the clients")
    parser.add_argument(
        "--size", type=int, default=100_000, help="gallery size for Qdrant in memory"
    )
    parser.add_argument(
        "--qdrant-disk-size",
        type=int,
        default=100_000,
        help="gallery size for Qdrant on disk (it commits each point to SQLite on its own)",
    )
    parser.add_argument(
        "--milvus-size", type=int, default=100_000, help="gallery size for milvus-lite, HNSW"
    )
    parser.add_argument(
        "--milvus-flat-size", type=int, default=20_000, help="gallery size for milvus-lite, FLAT"
    )
    parser.add_argument(
        "--milvus-queries",
        type=int,
        default=20,
        help="queries per search pass for milvus-lite (one request each, most of a second)",
    )
    parser.add_argument(
        "--child-timeout", type=float, default=240.0, help="seconds a database may take in all"
    )
    parser.add_argument("--child", choices=["qdrant", "qdrant-memory", "milvus", "milvus-hnsw"])
    parser.add_argument("--queries", type=int, default=NUM_QUERIES, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--results", type=Path, help="rewrite the table from a previous run's printed results"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size, args.queries)), flush=True)
        return
    plan = [
        ("qdrant-memory", args.size, NUM_QUERIES),
        ("milvus-hnsw", args.milvus_size, args.milvus_queries),
        ("qdrant", args.qdrant_disk_size, NUM_QUERIES),
        ("milvus", args.milvus_flat_size, args.milvus_queries),
    ]
    results = [] if args.results is None else saved_results(args.results)
    for name, size, queries in [] if args.results else plan:
        results.append(run_child(args.python, name, size, queries, args.child_timeout))
        print(results[-1], flush=True)
    headers = [
        "database", "entries", "queries", "add s", "queries/s", "recall@10", "camera-filtered q/s",
        "filtered recall", "delete s", "recall after delete", "reopen + search s", "peak MiB",
        "disk MiB",
    ]  # fmt: skip
    rows = [table_row(r) for r in results]
    sys.path.insert(0, str(Path(__file__).parent))
    from _report import markdown_table, write_section

    body = (
        "## Vector databases, embedded (`bench_vectordb.py`)\n\n"
        f"Re-id-shaped {DIM}-d embeddings with id, camera ({CAMERAS} cameras) and path, "
        "added in batches of 10,000; each search pass runs the *queries* (k="
        f"{K}) once: all, filtered to one camera, after the delete, and after reopening; the "
        "delete removes every entry of 10% of the people. *recall@10*: against numpy brute "
        "force on the same rows. Peak MiB: the child's peak RSS above its imports (a child "
        f"is stopped above 8 GiB). {versions(args.python)}. Each database runs in its own "
        f"process, stopped after {args.child_timeout:.0f} s (the machine is shared): a "
        "stopped one says how far it got. milvus-lite answers one query per request (its "
        "brute force holds a `[queries, rows, dim]` array), most of a second each, so it "
        f"runs {args.milvus_queries} queries per pass."
        "\n\n" + markdown_table(headers, rows) + "\n\n" + CHOICE
    )
    print(body)
    if not args.no_write:
        write_section("vectordb", body)


if __name__ == "__main__":
    main()
