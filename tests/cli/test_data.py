"""``siamreid data check``: the summary, the published counts, and errors as one line."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import Runner

from siamreid._paths import MANIFEST
from siamreid.cli.main import build_parser
from siamreid.data.datasets.market1501 import MARKET1501_FOLDER, Market1501
from siamreid.data.datasets.published import count_split
from siamreid.data.samples import ReidSplits
from siamreid.data.synthetic.mot import make_synthetic_mot


def _siamreid(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "siamreid", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def unmarked_copy(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic tree without the generator's manifest: to siamreid, a (small) download."""
    parent = tmp_path_factory.mktemp("download")
    shutil.copytree(synthetic_root, parent / MARKET1501_FOLDER)
    (parent / MARKET1501_FOLDER / MANIFEST).unlink()
    return parent


def test_check_prints_the_counts_against_the_published_ones(  # as a user runs it
    unmarked_copy: Path, synthetic_splits: ReidSplits
) -> None:
    proc = _siamreid("data", "check", "--dataset", "market1501", "--root", unmarked_copy)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == "=> Market1501 loaded"
    train = count_split(synthetic_splits.train)
    assert any(f"| {train.ids:5d} | {train.images:8d} |" in line for line in lines)
    rows = [line.split("|") for line in lines if line.rstrip().endswith(("ok", "DIFFERS"))]
    assert [r[0].strip() for r in rows] == ["train", "query", "gallery"]
    assert rows[0][1].strip() == str(train)
    assert rows[0][2].strip() == str(Market1501.published.train) == "751 ids / 12,936 images"
    assert all(r[3].strip() == "DIFFERS" for r in rows)  # the copy is smaller
    assert "note: train has" not in proc.stdout  # said once, by the table


def test_check_of_a_dataset_without_published_counts(cli: Runner, synthetic_root: Path) -> None:
    result = cli("data", "check", "--dataset", "synthetic", "--root", synthetic_root.parent)
    assert result.code == 0, result.err
    assert result.out.startswith("=> Synthetic Market-1501 loaded")
    assert "synthetic has no published counts" in result.out


def test_a_synthetic_copy_is_not_compared_with_market1501(
    cli: Runner, synthetic_root: Path
) -> None:
    result = cli("data", "check", "--dataset", "market1501", "--root", synthetic_root)
    assert result.code == 0, result.err
    assert "a synthetic copy has no published counts" in result.out
    assert "DIFFERS" not in result.out
    assert "incomplete download" not in result.out


def test_the_dataset_is_detected_from_the_root(cli: Runner, synthetic_root: Path) -> None:
    result = cli("data", "check", "--root", synthetic_root.parent)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].endswith(
        "detected dataset synthetic (give --dataset NAME to choose another)"
    )
    assert "=> Synthetic Market-1501 loaded" in result.out


def test_the_old_positional_form_still_works_with_one_warning(
    cli: Runner, synthetic_root: Path
) -> None:
    result = cli("data", "check", "synthetic", synthetic_root.parent)
    assert result.code == 0, result.err
    assert result.err.splitlines() == [
        "siamreid: warning: the positional form NAME ROOT is deprecated and will be removed; "
        "use data check --dataset NAME --root DIR instead."
    ]
    assert "=> Synthetic Market-1501 loaded" in result.out


def test_mot_options_reach_the_adapter(cli: Runner, tmp_path: Path) -> None:
    root = make_synthetic_mot(tmp_path / "mot", num_sequences=4, num_frames=40, seed=0)
    result = cli(
        "data",
        "check",
        "--dataset",
        "mot",
        "--root",
        root,
        "--option",
        "split=folders",
        "--option",
        "frame_step=2",
    )
    assert result.code == 0, result.err
    assert "split by the download's folders" in result.out
    bad = cli("data", "check", "--root", root, "--option", "frame_stp=2")
    assert bad.code == 2
    assert "Unknown MOTChallenge option(s) ['frame_stp']" in bad.err
    assert "frame_step" in bad.err  # the valid ones are listed
    assert bad.out.startswith("--root")  # detected as mot, refused before any reading
    wrong = cli("data", "check", "--dataset", "folder", "--root", root, "--option", "a=1")
    assert wrong.code == 2
    assert "takes no options" in wrong.err


def test_unknown_name_is_one_line_naming_the_known_ones(cli: Runner, tmp_path: Path) -> None:
    result = cli("data", "check", "--dataset", "duke", "--root", tmp_path)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("siamreid data: error: --dataset is 'duke'")
    assert "market1501, dukemtmcreid, msmt17" in result.err
    assert "Traceback" not in result.err


def test_missing_folder_is_one_line_naming_it(cli: Runner, tmp_path: Path) -> None:
    result = cli("data", "check", "--dataset", "dukemtmcreid", "--root", tmp_path / "nowhere")
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
