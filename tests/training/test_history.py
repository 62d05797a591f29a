"""Per-epoch records: JSON round trips, ``metrics.jsonl`` appends and reading it back."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from siamreid.training.history import EpochRecord, History


def _record(epoch: int, **changes: object) -> EpochRecord:
    fields: dict[str, object] = {
        "epoch": epoch,
        "train_loss": 2.0 / epoch,
        "train_terms": {"triplet": 0.5 / epoch, "id": 1.5 / epoch},
        "lr": 1e-3 * epoch,
        "images_per_second": 100.0 + epoch,
        "epoch_seconds": 3.0,
        "skipped_batches": epoch - 1,
        "val_loss": 0.4 / epoch,
        "val_terms": {"triplet": 0.4 / epoch},
        "rank1": 0.1 * epoch,
        "mAP": 0.05 * epoch,
        "mINP": 0.01 * epoch,
        "triplet_accuracy": 0.5 + 0.1 * epoch,
    }
    fields.update(changes)
    return EpochRecord(**fields)  # type: ignore[arg-type]


def test_a_record_survives_a_json_round_trip() -> None:
    record = _record(3)
    assert EpochRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_non_finite_numbers_become_null_even_inside_terms() -> None:
    record = _record(1, train_loss=math.nan, val_loss=math.inf, train_terms={"triplet": -math.inf})
    data = record.to_dict()
    assert data["train_loss"] is None
    assert data["val_loss"] is None
    assert data["train_terms"] == {"triplet": None}
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN/Infinity tokens


def test_from_dict_ignores_unknown_keys_and_fills_defaults() -> None:
    minimal = {"epoch": 1, "train_loss": 1.0, "train_terms": {}, "lr": 0.1}
    data = {**minimal, "images_per_second": 5.0, "epoch_seconds": 2.0, "gpu_memory": 12}
    record = EpochRecord.from_dict(data)
    assert record.epoch == 1
    assert record.skipped_batches == 0
    assert record.val_loss is None
    assert record.val_terms == {}
    assert record.mAP is None


def test_from_dict_needs_the_required_fields() -> None:
    with pytest.raises(TypeError, match="epoch_seconds"):
        EpochRecord.from_dict(
            {"epoch": 1, "train_loss": 1.0, "train_terms": {}, "lr": 0.1, "images_per_second": 1.0}
        )


def test_history_is_a_sequence_of_records_with_columns() -> None:
    history = History([_record(1), _record(2)])
    assert len(history) == 2
    assert [r.epoch for r in history] == [1, 2]
    assert history[-1].epoch == 2
    assert history.column("rank1") == [pytest.approx(0.1), pytest.approx(0.2)]
    assert History().records == []
    assert History.from_list(history.to_list()).records == history.records


def test_history_copies_the_list_it_is_given() -> None:
    records = [_record(1)]
    history = History(records)
    history.append(_record(2))
    assert len(records) == 1


def test_appends_write_one_json_line_each_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    history = History()
    for epoch in (1, 2, 3):
        history.append(_record(epoch), path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert History.read_jsonl(path).records == history.records
    assert History.read_jsonl(str(path)).records == history.records


def test_append_without_a_file_writes_nothing(tmp_path: Path) -> None:
    History().append(_record(1))
    assert list(tmp_path.iterdir()) == []


def test_appends_go_to_the_end_of_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    History().append(_record(1), path)
    History().append(_record(2), path)  # a resumed run appends to the same file
    assert [r.epoch for r in History.read_jsonl(path)] == [1, 2]


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    history = History()
    history.append(_record(1), path)
    history.append(_record(2), path)
    whole = json.dumps(_record(3).to_dict())
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(whole[: len(whole) // 2])  # killed mid-write
    assert [r.epoch for r in History.read_jsonl(path)] == [1, 2]


def test_blank_and_garbled_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    good = [json.dumps(_record(e).to_dict()) for e in (1, 2)]
    path.write_text(f"\n{good[0]}\n{{not json\n[1, 2]\n42\n\n{good[1]}\n", encoding="utf-8")
    assert [r.epoch for r in History.read_jsonl(path)] == [1, 2]


def test_nulls_read_back_as_none(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    History().append(_record(1, val_loss=math.nan, rank1=None), path)
    record = History.read_jsonl(path)[0]
    assert record.val_loss is None
    assert record.rank1 is None
    assert record.train_loss == pytest.approx(2.0)


def test_an_empty_or_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "metrics.jsonl"
    empty.write_text("", encoding="utf-8")
    assert len(History.read_jsonl(empty)) == 0
    with pytest.raises(FileNotFoundError):
        History.read_jsonl(tmp_path / "missing.jsonl")
