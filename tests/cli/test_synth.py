"""``siamreid synth --mot``: writes the sequences and says where (once in a subprocess, as users
run it), and refuses to overwrite without ``--overwrite``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from cli_runner import Runner

from siamreid.data.datasets._mot_format import parse_gt

SMALL = ("--sequences", "2", "--frames", "3", "--people", "2")


def test_synth_mot_in_a_subprocess_writes_the_sequences(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "siamreid", "synth", "--mot", "--out", str(tmp_path), *SMALL],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for split, name in (("train", "SYN-01"), ("test", "SYN-02")):
        seq = tmp_path / split / name
        frames = sorted(p.name for p in (seq / "img1").iterdir())
        assert frames == ["000001.jpg", "000002.jpg", "000003.jpg"]
        boxes = parse_gt(seq / "gt" / "gt.txt", max_frame=3)
        assert f"{split:<5} | {name}" in done.stdout
        assert f"({sum(b.cls == 1 and b.flag == 1 for b in boxes)})" in done.stdout
    assert f"written to {tmp_path}" in done.stdout


def test_synth_mot_refuses_to_overwrite_without_the_flag(cli: Runner, tmp_path: Path) -> None:
    args = ("synth", "--mot", "--out", tmp_path, *SMALL)
    assert cli(*args).code == 0
    gt = tmp_path / "train" / "SYN-01" / "gt" / "gt.txt"
    before = gt.read_bytes()
    again = cli(*args, "--seed", "5")
    assert again.code == 2
    assert "already exists" in again.err
    assert "--overwrite" in again.err
    assert gt.read_bytes() == before
    assert cli(*args, "--seed", "5", "--overwrite").code == 0
    assert gt.read_bytes() != before


def test_synth_market_is_not_compared_with_market1501(cli: Runner, tmp_path: Path) -> None:
    result = cli("synth", "--out", tmp_path, "--train-ids", 3, "--test-ids", 3)
    assert result.code == 0, result.err
    assert "=> Market1501 loaded" in result.out
    assert "incomplete download" not in result.out  # a synthetic copy is small by design
    assert "note:" not in result.out


def test_synth_mot_overwrite_refuses_a_users_sequence_and_file(cli: Runner, tmp_path: Path) -> None:
    args = ("synth", "--mot", "--out", tmp_path, *SMALL)
    assert cli(*args).code == 0
    real = tmp_path / "train" / "MOT17-02-FRCNN"
    (real / "img1").mkdir(parents=True)
    (real / "img1" / "000001.jpg").write_bytes(b"a real frame")
    (tmp_path / "test" / "notes.txt").write_text("mine")
    gt = tmp_path / "train" / "SYN-01" / "gt" / "gt.txt"
    before = gt.read_bytes()
    again = cli(*args, "--seed", "5", "--overwrite")
    assert again.code == 2
    expected = (
        "2 file(s) siamreid synth --mot did not write (test/notes.txt, train/MOT17-02-FRCNN/)"
    )
    assert expected in again.err
    assert "nothing was changed" in again.err
    assert (real / "img1" / "000001.jpg").read_bytes() == b"a real frame"
    assert (tmp_path / "test" / "notes.txt").read_text() == "mine"
    assert gt.read_bytes() == before
    (tmp_path / "test" / "notes.txt").unlink()
    shutil.rmtree(real)
    (tmp_path / "train" / "SYN-01" / "img1" / "000002.jpg").write_bytes(b"replaced by the user")
    edited = cli(*args, "--seed", "5", "--overwrite")
    assert edited.code == 2
    assert "(train/SYN-01/img1/000002.jpg)" in edited.err  # a generated name with other content
    (tmp_path / "train" / "SYN-01" / "img1" / "000002.jpg").unlink()
    assert cli(*args, "--seed", "5", "--overwrite").code == 0  # only its own files: replaced
    assert gt.read_bytes() != before


def test_synth_mot_overwrite_refuses_a_real_dataset_it_did_not_write(
    cli: Runner, tmp_path: Path
) -> None:
    real = tmp_path / "train" / "MOT17-02-FRCNN" / "gt"
    real.mkdir(parents=True)
    (real / "gt.txt").write_text("1,1,10,10,20,40,1,1,1\n")
    result = cli("synth", "--mot", "--out", tmp_path, *SMALL, "--overwrite")
    assert result.code == 2
    assert "MOT17-02-FRCNN/" in result.err
    assert (real / "gt.txt").is_file()


def test_synth_market_overwrite_replaces_only_its_own_tree(cli: Runner, tmp_path: Path) -> None:
    args = ("synth", "--out", tmp_path, "--train-ids", "3", "--test-ids", "3")
    assert cli(*args).code == 0
    assert cli(*args).code == 2  # exists: refused without the flag
    assert cli(*args, "--seed", "1", "--overwrite").code == 0
    base = tmp_path / "Market-1501-v15.09.15"
    (base / "query" / "0999_c1s1_000001_00.jpg").write_bytes(b"a user's image")
    refused = cli(*args, "--overwrite")
    assert refused.code == 2
    assert "(Market-1501-v15.09.15/query/0999_c1s1_000001_00.jpg)" in refused.err
    assert (base / "query" / "0999_c1s1_000001_00.jpg").read_bytes() == b"a user's image"
