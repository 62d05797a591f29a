"""``siamreid data check``: the summary, the published counts, and errors as one line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from cli_runner import Runner

from siamreid.cli.main import build_parser
from siamreid.data.market1501 import Market1501
from siamreid.data.published import count_split
from siamreid.data.samples import ReidSplits


def _siamreid(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "siamreid", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_prints_the_counts_against_the_published_ones(  # as a user runs it
    synthetic_root: Path, synthetic_splits: ReidSplits
) -> None:
    proc = _siamreid("data", "check", "market1501", synthetic_root.parent)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "=> Market1501 loaded"
    train = count_split(synthetic_splits.train)
    assert any(f"| {train.ids:5d} | {train.images:8d} |" in line for line in lines)
    rows = [line.split("|") for line in lines if line.rstrip().endswith(("ok", "DIFFERS"))]
    assert [r[0].strip() for r in rows] == ["train", "query", "gallery"]
    assert rows[0][1].strip() == str(train)
    assert rows[0][2].strip() == str(Market1501.published.train) == "751 ids / 12,936 images"
    assert all(r[3].strip() == "DIFFERS" for r in rows)  # the synthetic copy is smaller
    assert "note: train has" not in proc.stdout  # said once, by the table


def test_check_of_a_dataset_without_published_counts(cli: Runner, synthetic_root: Path) -> None:
    result = cli("data", "check", "synthetic", synthetic_root.parent)
    assert result.code == 0, result.err
    assert result.out.startswith("=> Synthetic Market-1501 loaded")
    assert "synthetic has no published counts" in result.out


def test_unknown_name_is_one_line_naming_the_known_ones(cli: Runner, tmp_path: Path) -> None:
    result = cli("data", "check", "duke", tmp_path)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("siamreid data: error: NAME is 'duke'")
    assert "market1501, dukemtmcreid, msmt17" in result.err
    assert "Traceback" not in result.err


def test_missing_folder_is_one_line_naming_it(cli: Runner, tmp_path: Path) -> None:
    result = cli("data", "check", "dukemtmcreid", tmp_path / "nowhere")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert "nowhere" in result.err
    assert result.out == ""


def test_every_option_of_data_check_has_help(cli: Runner) -> None:
    parser = build_parser()
    for name in ("data", "check"):
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    assert parser.description
    assert "cuhk03np_detected" in parser.description  # the names it takes are listed
    for action in parser._actions:
        assert action.help, action.dest
