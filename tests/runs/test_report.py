"""The run report: metrics.json, losses.png, ranked.png and, given the model, actmaps.png."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamreid.data.samples import ReidSample
from siamreid.evaluation import evaluate_rank
from siamreid.models import SiameseEmbedder
from siamreid.runs.report import rank_gallery, write_report
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
