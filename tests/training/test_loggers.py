"""Experiment trackers: MLflow in a local store, W&B offline (and a recording fake), the
choice OutputConfig makes, and one clear error per missing package. Never the network."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from quick_training import QuickConfig
from siamreid.data.samples import ReidSplits
from siamreid.errors import ConfigError
from siamreid.models import SiameseEmbedder
from siamreid.training import OutputConfig, Trainer, TrainerConfig
from siamreid.training.history import EpochRecord
from siamreid.training.loggers import base, open_loggers, scalars


def _record(epoch: int, loss: float, **fields: Any) -> EpochRecord:
    return EpochRecord(epoch, loss, {"triplet": loss / 2}, 1e-3, 10.0, 1.0, **fields)


def _model(splits: ReidSplits) -> SiameseEmbedder:
    return SiameseEmbedder(
        "test_resnet", 16, pretrained=False, num_classes=splits.num_train_pids, input_size=(64, 32)
    )


def _with_trackers(config: TrainerConfig, *trackers: str, **output: Any) -> TrainerConfig:
    changed = replace(config.output, trackers=trackers, tensorboard=False, **output)
    return replace(config, output=changed)


def test_scalars_leave_out_what_was_not_measured() -> None:
    values = scalars(_record(2, 1.5, mAP=0.25, val_loss=float("nan")))
    assert values["loss/train"] == 1.5
    assert values["loss/train_triplet"] == 0.75
    assert values["val/mAP"] == 0.25
    assert "loss/val" not in values  # NaN
    assert "val/rank1" not in values  # not validated


def test_mlflow_logs_each_epoch_into_one_run_also_across_a_resume(
    synthetic_splits: ReidSplits,
    tmp_path: Path,
    quick_config: QuickConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks a database otherwise
    out = tmp_path / "train"
    config = _with_trackers(quick_config(out, epochs=2), "mlflow", experiment="tests")
    first = Trainer(_model(synthetic_splits), config).fit(synthetic_splits.train, synthetic_splits)
    run_id = json.loads((out / "trackers.json").read_text("utf-8"))["mlflow"]
    longer = replace(config, epochs=3, output=replace(config.output, resume=True))
    history = Trainer(_model(synthetic_splits), longer).fit(
        synthetic_splits.train, synthetic_splits
    )

    assert json.loads((out / "trackers.json").read_text("utf-8")) == {"mlflow": run_id}
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "train"  # the out_dir's name
    assert client.get_experiment(run.info.experiment_id).name == "tests"
    assert run.data.params["trainer.epochs"] == "2"  # the settings the run started with
    losses = {m.step: m.value for m in client.get_metric_history(run_id, "loss/train")}
    assert losses == pytest.approx({r.epoch: r.train_loss for r in history})
    assert len(first) == 2
    maps = {m.step: m.value for m in client.get_metric_history(run_id, "val/mAP")}
    assert maps == pytest.approx({r.epoch: r.mAP for r in history})


def test_wandb_offline_keeps_the_run_on_disk_and_resumes_it(
    synthetic_splits: ReidSplits,
    tmp_path: Path,
    quick_config: QuickConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    out = tmp_path / "train"
    config = _with_trackers(quick_config(out), "wandb", run_name="w1")
    Trainer(_model(synthetic_splits), config).fit(synthetic_splits.train, synthetic_splits)
    run_id = json.loads((out / "trackers.json").read_text("utf-8"))["wandb"]
    runs = list((out / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(runs) == 1
    assert (runs[0] / f"run-{run_id}.wandb").stat().st_size > 0

    longer = replace(config, epochs=2, output=replace(config.output, resume=True))
    Trainer(_model(synthetic_splits), longer).fit(synthetic_splits.train, synthetic_splits)
    assert json.loads((out / "trackers.json").read_text("utf-8")) == {"wandb": run_id}


class _FakeRun:
    def __init__(self, calls: list[tuple[str, Any]], **kwargs: Any) -> None:
        self.id = kwargs.get("id") or "fake123"
        self._calls = calls
        calls.append(("init", kwargs))

    def log(self, data: dict[str, float], step: int) -> None:
        self._calls.append(("log", (step, data)))

    def finish(self) -> None:
        self._calls.append(("finish", None))


def test_wandb_gets_every_epoch_s_numbers_with_the_epoch_as_step(
    synthetic_splits: ReidSplits,
    tmp_path: Path,
    quick_config: QuickConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, Any]] = []
    fake = types.ModuleType("wandb")
    fake.init = lambda **kwargs: _FakeRun(calls, **kwargs)  # type: ignore[attr-defined]
    fake.__spec__ = types.SimpleNamespace(name="wandb")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setattr(base, "installed", lambda package: True)
    config = _with_trackers(quick_config(tmp_path, epochs=2), "wandb", experiment="proj")
    history = Trainer(_model(synthetic_splits), config).fit(
        synthetic_splits.train, synthetic_splits
    )

    kind, init = calls[0]
    assert kind == "init"
    assert (init["project"], init["name"], init["dir"]) == ("proj", tmp_path.name, str(tmp_path))
    assert init["config"]["trainer"]["epochs"] == 2
    logged = [args for kind, args in calls if kind == "log"]
    assert [step for step, _ in logged] == [1, 2]
    assert [data["val/mAP"] for _, data in logged] == pytest.approx([r.mAP for r in history])
    assert calls[-1] == ("finish", None)


@pytest.mark.parametrize("tracker", ["mlflow", "wandb"])
def test_a_tracker_asked_for_but_not_installed_names_its_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracker: str
) -> None:
    monkeypatch.setattr(base, "installed", lambda package: False)
    output = OutputConfig(out_dir=str(tmp_path), trackers=(tracker,), tensorboard=False)
    with pytest.raises(ConfigError, match=rf"pip install 'siamreid\[{tracker}\]'"):
        open_loggers(output, tmp_path)
    assert not (tmp_path / "trackers.json").exists()


def test_no_tracker_is_opened_unless_asked(tmp_path: Path) -> None:
    assert open_loggers(OutputConfig(tensorboard=False), tmp_path) == []
    assert open_loggers(OutputConfig(), None) == []


def test_tracker_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"OutputConfig.trackers is 'neptune'"):
        OutputConfig(trackers=("neptune",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="names one twice"):
        OutputConfig(trackers=("mlflow", "mlflow"))
    with pytest.raises(ConfigError, match="tensorboard=False"):
        OutputConfig(trackers=("tensorboard",), tensorboard=False)
    with pytest.raises(ConfigError, match="needs out_dir"):
        open_loggers(OutputConfig(trackers=("mlflow",)), None)
