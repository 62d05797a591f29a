"""The run report: metrics.json, losses.png, ranked.png and, given the model, actmaps.png."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamreid.data.samples import ReidSample
from siamreid.evaluation import RankMetrics, evaluate_rank
from siamreid.models import SiameseEmbedder
from siamreid.runs.report import cross_domain_table, rank_gallery, write_report
from siamreid.training.history import EpochRecord, History

pytest.importorskip("matplotlib")

SIZE = (64, 32)


def _samples(folder: Path, pids: list[int], camid: int) -> list[ReidSample]:
    rng = np.random.default_rng(camid)
    samples = []
    for i, pid in enumerate(pids):
        pixels = rng.integers(0, 256, (8, 4, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
        path = folder / f"{pid:04d}_c{camid + 1}_{i}.jpg"
        Image.fromarray(pixels).save(path)
        samples.append(ReidSample(path, pid, camid))
    return samples


@pytest.mark.parametrize("with_model", [True, False])
def test_report_writes_activation_maps_of_the_ranked_queries(
    tiny_model_factory: Callable[..., SiameseEmbedder], tmp_path: Path, with_model: bool
) -> None:
    model = tiny_model_factory().eval()
    query = _samples(tmp_path, [1, 2, 3], camid=0)
    gallery = _samples(tmp_path, [1, 2, 3, 4, 5], camid=1)
    q_emb, g_emb = model.embed([s.path for s in query]), model.embed([s.path for s in gallery])
    metrics = evaluate_rank(
        torch.cdist(q_emb, g_emb).numpy(),
        np.array([s.pid for s in query]),
        np.array([s.pid for s in gallery]),
        np.array([s.camid for s in query]),
        np.array([s.camid for s in gallery]),
        max_rank=5,
    )
    ranked = rank_gallery(q_emb, g_emb, query, gallery, num_queries=2, top_k=3)
    history = History(
        [
            EpochRecord(
                1,
                3.0,
                {"triplet": 0.5, "identity": 2.5},
                1e-3,
                10.0,
                1.0,
                0,
                0.4,
                {"triplet": 0.4},
                0.5,
                0.4,
            )
        ]
    )
    out = tmp_path / "run"
    write_report(
        out,
        before=metrics,
        after=metrics,
        history=history,
        train_seconds=1.0,
        ranked=ranked,
        query=query,
        gallery=gallery,
        model=model if with_model else None,
    )
    assert json.loads((out / "metrics.json").read_text("utf-8"))["epochs"] == 1
    assert (out / "losses.png").is_file()
    assert (out / "actmaps.png").is_file() == with_model
    if with_model:
        image = np.asarray(Image.open(out / "actmaps.png").convert("RGB"), dtype=np.float32)
        assert image.shape[0] >= 300  # two rows: crops and overlays
        assert image.shape[1] >= 150  # one column per ranked query
        assert image.std() > 10.0


def _metrics(cmc: list[float], map_: float) -> RankMetrics:
    return RankMetrics(np.array(cmc), map_, map_ / 2, 3, np.full(3, map_))


def _history() -> History:
    record = EpochRecord(1, 3.0, {"triplet": 3.0}, 1e-3, 10.0, 1.0, 0, None, {}, None, None)
    return History([record, replace(record, epoch=2, images_per_second=30.0)])


def test_metrics_json_holds_every_test_set_and_the_extra_fields(tmp_path: Path) -> None:
    before, after = _metrics([0.1] * 10, 0.05), _metrics([0.5] * 10, 0.4)
    other = _metrics([0.2, 0.3, 0.4, 0.5, 0.6], 0.3)  # a small gallery: ranks up to 5
    report = write_report(
        tmp_path,
        before=before,
        after=after,
        history=_history(),
        train_seconds=12,
        extra={"backbone": "resnet18"},
        test_sets={"a": (before, after), "b": (before, other)},
    )
    saved = json.loads((tmp_path / "metrics.json").read_text("utf-8"))
    assert saved == report
    assert saved["before"] == before.to_dict()
    assert saved["after"] == after.to_dict()
    assert saved["train_seconds"] == 12.0
    assert saved["images_per_second"] == 20.0  # the mean over epochs
    assert saved["epochs"] == 2
    assert saved["backbone"] == "resnet18"
    assert saved["test_sets"]["b"] == {"before": before.to_dict(), "after": other.to_dict()}
    assert "rank10" not in saved["test_sets"]["b"]["after"]
    assert (tmp_path / "losses.png").is_file()
    assert not (tmp_path / "ranked.png").exists()  # nothing ranked, nothing drawn


def test_the_ranked_gallery_leaves_out_same_person_same_camera(tmp_path: Path) -> None:
    query = _samples(tmp_path, [1], camid=0)
    gallery = [
        *_samples(tmp_path, [1, 2], camid=0),  # person 1 by the query's camera: junk
        *_samples(tmp_path, [1, 3], camid=1),
    ]
    q_emb = torch.zeros(1, 2)
    g_emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    ranked = rank_gallery(q_emb, g_emb, query, gallery, top_k=3)
    assert ranked.query_rows.tolist() == [0]
    assert ranked.gallery_rows.tolist() == [[1, 2, 3]]
    assert ranked.correct.tolist() == [[False, True, False]]
    assert ranked.distances.tolist() == [[1.0, 2.0, 3.0]]


def test_the_cross_domain_table_is_in_percent_with_na_beyond_a_small_gallery() -> None:
    table = cross_domain_table(
        {"market1501": _metrics([0.5] * 10, 0.4), "tiny": _metrics([0.25] * 3, 0.2)},
        trained_on="dukemtmcreid",
    )
    title, header, rule, market, tiny = table.splitlines()
    assert title == "cross-domain results (%), trained on dukemtmcreid"
    assert header.split("|")[0].strip() == "test set"
    assert [c.strip() for c in header.split("|")[1:]] == [
        "Rank-1",
        "Rank-5",
        "Rank-10",
        "mAP",
        "mINP",
    ]
    assert set(rule.strip()) <= {"-", "+"}
    assert [c.strip() for c in market.split("|")] == [
        "market1501",
        "50.0",
        "50.0",
        "50.0",
        "40.0",
        "20.0",
    ]
    assert [c.strip() for c in tiny.split("|")] == ["tiny", "25.0", "n/a", "n/a", "20.0", "10.0"]


# ------------------------------------------------ each rule on small, hand-made inputs


def _cmc_metrics(cmc: list[float], mAP: float = 0.5, mINP: float = 0.25) -> RankMetrics:  # noqa: N803
    return RankMetrics(np.array(cmc), mAP, mINP, 1, np.array([mAP]))


def _named_samples(pids: list[int], camids: list[int | None]) -> list[ReidSample]:
    return [
        ReidSample(Path(f"{i:02d}_{pid}.jpg"), pid, cam)
        for i, (pid, cam) in enumerate(zip(pids, camids, strict=True))
    ]


def _points(*xs: float) -> torch.Tensor:
    return torch.tensor([[x, 0.0] for x in xs])


def test_rank_gallery_orders_by_distance_and_marks_the_query_identity() -> None:
    query = _named_samples([1, 2], [0, 0])
    gallery = _named_samples([2, 1, 3, 1], [1, 1, 1, 1])
    ranked = rank_gallery(_points(0.0, 10.0), _points(9.0, 1.0, 2.0, 4.0), query, gallery, top_k=3)
    assert ranked.query_rows.tolist() == [0, 1]
    assert ranked.gallery_rows.tolist() == [[1, 2, 3], [0, 3, 2]]
    np.testing.assert_allclose(ranked.distances, [[1.0, 2.0, 4.0], [1.0, 6.0, 8.0]])
    assert ranked.correct.tolist() == [[True, False, True], [True, False, False]]


def test_rank_gallery_leaves_out_the_same_person_seen_by_the_same_camera() -> None:
    query = _named_samples([1], [0])
    gallery = _named_samples([1, 1, 2], [0, 1, 0])  # row 0: same person, same camera: junk
    ranked = rank_gallery(_points(0.0), _points(0.0, 3.0, 5.0), query, gallery, top_k=2)
    assert ranked.gallery_rows.tolist() == [[1, 2]]
    assert ranked.correct.tolist() == [[True, False]]


def test_without_cameras_nothing_is_junk() -> None:
    query = _named_samples([1], [None])
    gallery = _named_samples([1, 2], [None, None])
    ranked = rank_gallery(_points(0.0), _points(0.0, 3.0), query, gallery, top_k=2)
    assert ranked.gallery_rows.tolist() == [[0, 1]]
    assert ranked.correct.tolist() == [[True, False]]


def test_rank_gallery_shows_seeded_distinct_queries_in_order() -> None:
    query = _named_samples(list(range(1, 21)), [0] * 20)
    gallery = _named_samples(list(range(1, 21)), [1] * 20)
    emb = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    first = rank_gallery(emb, emb, query, gallery, num_queries=6, top_k=2, seed=3)
    again = rank_gallery(emb, emb, query, gallery, num_queries=6, top_k=2, seed=3)
    other = rank_gallery(emb, emb, query, gallery, num_queries=6, top_k=2, seed=4)
    rows = first.query_rows.tolist()
    assert rows == sorted(set(rows))
    assert len(rows) == 6
    assert rows == again.query_rows.tolist()
    assert rows != other.query_rows.tolist()
    assert first.correct[:, 0].all()  # each query's own embedding is in the gallery
    few = rank_gallery(emb[:2], emb, query[:2], gallery, num_queries=6, top_k=2)
    assert few.query_rows.tolist() == [0, 1]  # no more queries than there are


def _history_at(*rates: float) -> History:
    return History([EpochRecord(e + 1, 1.0, {}, 1e-3, r, 2.0) for e, r in enumerate(rates)])


def test_metrics_json_holds_before_after_speed_and_extra(tmp_path: Path) -> None:
    before, after = _cmc_metrics([0.1] * 10, 0.05), _cmc_metrics([0.6] * 10, 0.4)
    report = write_report(
        tmp_path / "run",
        before=before,
        after=after,
        history=_history_at(100.0, 300.0),
        train_seconds=12,
        extra={"seed": 7},
    )
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text("utf-8"))
    assert saved == report
    assert saved["before"] == before.to_dict()
    assert saved["after"] == after.to_dict()
    assert saved["train_seconds"] == 12.0
    assert saved["images_per_second"] == pytest.approx(200.0)
    assert saved["epochs"] == 2
    assert saved["seed"] == 7
    assert "test_sets" not in saved
    assert (tmp_path / "run" / "losses.png").is_file()
    assert not (tmp_path / "run" / "ranked.png").exists()  # no ranked matches given


def test_metrics_json_lists_every_test_set(tmp_path: Path) -> None:
    a, b = _cmc_metrics([0.2] * 10), _cmc_metrics([0.7] * 10)
    report = write_report(
        tmp_path,
        before=a,
        after=b,
        history=_history_at(),
        train_seconds=0.0,
        test_sets={"market": (a, b), "duke": (b, a)},
    )
    assert list(report["test_sets"]) == ["market", "duke"]
    assert report["test_sets"]["duke"] == {"before": b.to_dict(), "after": a.to_dict()}
    assert report["images_per_second"] == 0.0  # no epochs: no rate
    assert report["epochs"] == 0


def test_ranked_png_is_drawn_from_the_ranked_matches(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (32, 16, 3), dtype=np.uint8)).save(paths[-1])
    query = [ReidSample(paths[0], 1, 0)]
    gallery = [ReidSample(p, pid, 1) for p, pid in zip(paths[1:], [1, 2, 3], strict=True)]
    ranked = rank_gallery(_points(0.0), _points(1.0, 2.0, 3.0), query, gallery, top_k=2)
    write_report(
        tmp_path / "run",
        before=_cmc_metrics([0.0] * 10, 0.0, 0.0),
        after=_cmc_metrics([1.0] * 10, 1.0, 1.0),
        history=_history_at(1.0),
        train_seconds=1.0,
        ranked=ranked,
        query=query,
        gallery=gallery,
    )
    assert Image.open(tmp_path / "run" / "ranked.png").size[0] > 100
    assert not (tmp_path / "run" / "actmaps.png").exists()  # no model given


def test_cross_domain_table_rows_in_percent_in_the_given_order() -> None:
    results = {"market1501": _cmc_metrics([0.5, 0.6, 0.7, 0.8, 0.9] + [1.0] * 5, 0.4, 0.125)}
    results["dukemtmcreid (a long label)"] = _cmc_metrics([0.25] * 10, 0.2, 0.1)
    table = cross_domain_table(results, trained_on="msmt17")
    lines = table.splitlines()
    assert lines[0] == "cross-domain results (%), trained on msmt17"
    assert lines[1].split("|")[0].strip() == "test set"
    assert [c.strip() for c in lines[1].split("|")[1:]] == [
        "Rank-1",
        "Rank-5",
        "Rank-10",
        "mAP",
        "mINP",
    ]
    assert set(lines[2]) <= {" ", "-", "+"}
    assert [c.strip() for c in lines[3].split("|")] == [
        "market1501",
        "50.0",
        "90.0",
        "100.0",
        "40.0",
        "12.5",
    ]
    assert lines[4].split("|")[0].strip() == "dukemtmcreid (a long label)"
    assert len({line.index("|") for line in lines[1:] if "|" in line}) == 1  # columns line up


def test_cross_domain_table_says_n_a_for_ranks_beyond_a_tiny_gallery() -> None:
    table = cross_domain_table({"tiny": _cmc_metrics([0.5, 1.0, 1.0])}, trained_on="x")
    cells = [c.strip() for c in table.splitlines()[-1].split("|")]
    assert cells == ["tiny", "50.0", "n/a", "n/a", "50.0", "25.0"]
