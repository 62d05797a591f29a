"""The run report: metrics.json, losses.png, ranked.png and, given the model, actmaps.png."""

from __future__ import annotations

import json
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
    tmp_path: Path, with_model: bool
) -> None:
    torch.manual_seed(0)
    model = SiameseEmbedder("test_efficientnet", 16, pretrained=False, input_size=SIZE).eval()
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
