"""``siamreid search`` against brute force on the embeddings of ``siamreid index build``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from cli_runner import Runner

from siamreid import viz
from siamreid.data.datasets.market1501 import parse_market1501_name
from siamreid.models import SiameseEmbedder
from siamreid.retrieval import Retriever


def _printed_ids(out: str) -> list[list[str]]:
    """The person column of each query's table, in order."""
    tables = re.split(r"^query ", out, flags=re.M)[1:]
    return [re.findall(r"^\s+\d+\s+(\S+)", block, re.M) for block in tables]


def test_search_prints_the_brute_force_neighbours(
    cli: Runner,
    checkpoint: Path,
    tiny_model: SiameseEmbedder,
    gallery: Path,
    synthetic_root: Path,
    tmp_path: Path,
) -> None:
    index = tmp_path / "index"
    build = cli("index", "build", "--checkpoint", checkpoint, gallery, "--out", index)
    assert build.code == 0, build.err
    queries = synthetic_root / "query"
    plot = tmp_path / "ranked.png"
    result = cli("search", "--index", index, queries, "--k", 3, "--plot", plot, "--workers", 0)
    assert result.code == 0, result.err
    kept = [p for p in sorted(gallery.glob("*.jpg")) if not p.name.startswith("-1")]
    ids = torch.tensor([parse_market1501_name(p.name)[0] for p in kept])
    query_paths = sorted(queries.glob("*.jpg"))
    dist = torch.cdist(tiny_model.embed(query_paths), tiny_model.embed(kept))
    expected = ids[dist.argsort(dim=1)[:, :3]]
    assert _printed_ids(result.out) == [[str(int(i)) for i in row] for row in expected]
    assert plot.stat().st_size > 0


def test_subfolder_names_become_ids_and_are_printed(
    cli: Runner, checkpoint: Path, gallery: Path, tmp_path: Path
) -> None:
    people = tmp_path / "people"
    by_pid: dict[int, list[Path]] = {}
    for path in sorted(gallery.glob("*.jpg")):
        pid = parse_market1501_name(path.name)[0]
        if (pid > 0 and len(by_pid) < 3) or pid in by_pid:
            by_pid.setdefault(pid, []).append(path)
    names = dict(zip(sorted(by_pid), ["carol", "alice", "bob"], strict=True))
    for pid, paths in by_pid.items():
        (people / names[pid]).mkdir(parents=True)
        for i, path in enumerate(paths):
            shutil.copy(path, people / names[pid] / f"{i}.jpg")
    index = tmp_path / "index"
    assert cli("index", "build", "--checkpoint", checkpoint, people, "--out", index).code == 0
    saved = Retriever.load(index).names
    assert saved is not None
    assert sorted(saved.values()) == ["alice", "bob", "carol"]
    query = next((people / "bob").iterdir())
    plot = tmp_path / "one.png"
    result = cli("search", "--index", index, query, "--k", 1, "--plot", plot, "--workers", 0)
    assert result.code == 0, result.err
    assert _printed_ids(result.out) == [["bob"]]  # the query itself is in the gallery
    assert plot.is_file()


def test_unlabelled_queries_are_drawn_with_neutral_frames(
    cli: Runner,
    checkpoint: Path,
    gallery: Path,
    synthetic_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = tmp_path / "index"
    assert cli("index", "build", "--checkpoint", checkpoint, gallery, "--out", index).code == 0
    photos = tmp_path / "photos"  # images of no known person: plain names, no person folders
    photos.mkdir()
    labelled = sorted((synthetic_root / "query").glob("*.jpg"))[0]
    shutil.copy(labelled, photos / "street.jpg")
    plot = tmp_path / "unlabelled.png"
    result = cli("search", "--index", index, photos, "--k", 3, "--plot", plot, "--workers", 0)
    assert result.code == 0, result.err
    assert plot.stat().st_size > 0

    drawn: dict[str, object] = {}
    monkeypatch.setattr(viz, "plot_ranked_matches", lambda *a, **kw: drawn.update(kw))
    shutil.copy(labelled, photos / labelled.name)  # one with a Market-1501 name beside it
    assert cli("search", "--index", index, photos, "--k", 3, "--plot", plot).code == 0
    pid, _ = parse_market1501_name(labelled.name)
    assert drawn["labelled"] == [True, False]  # sorted: 0001_c1... before street.jpg
    assert drawn["query_labels"] == [f"id {pid}", "no id"]
