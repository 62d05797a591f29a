"""The command table: every option documented, errors as one line, ``python -m siamreid``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import Runner

from siamreid.cli.main import build_parser

OURS = ("evaluate", "embed", "search", "export", "index build")


def _subparser(parser: argparse.ArgumentParser, path: str) -> argparse.ArgumentParser:
    for name in path.split():
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("command", OURS)
def test_every_option_has_help(command: str) -> None:
    parser = _subparser(build_parser(), command)
    assert parser.description
    for action in parser._actions:
        if not isinstance(action, argparse._HelpAction):
            assert action.help, f"{command}: {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("command", OURS)
def test_help_exits_cleanly(command: str, cli: Runner) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(*command.split(), "--help")
    assert exit_info.value.code == 0


def test_missing_checkpoint_is_one_line_on_stderr(cli: Runner, tmp_path: Path) -> None:
    result = cli(
        "evaluate", "--checkpoint", tmp_path / "none", "--dataset", "market1501", "--root", tmp_path
    )
    assert result.code == 2
    assert result.err.startswith("siamreid evaluate: error: No saved model at")
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_debug_shows_the_traceback(cli: Runner, tmp_path: Path) -> None:
    result = cli("--debug", "export", "--checkpoint", tmp_path / "none", "--out", tmp_path / "m")
    assert result.code == 2
    assert "Traceback" in result.err
    assert "No saved model at" in result.err


def test_images_folder_without_images_is_named(
    cli: Runner, checkpoint: Path, tmp_path: Path
) -> None:
    result = cli("embed", "--checkpoint", checkpoint, tmp_path, "--out", tmp_path / "e.npz")
    assert result.code == 2
    assert f"IMAGES {str(tmp_path)!r} holds no images" in result.err


def test_python_dash_m_runs_the_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "siamreid", "index", "build", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "--checkpoint" in proc.stdout


COMMANDS = (
    (),
    ("synth",),
    ("demo",),
    ("train",),
    ("evaluate",),
    ("embed",),
    ("index",),
    ("index", "build"),
    ("search",),
    ("export",),
    ("data",),
    ("data", "check"),
)
HEAVY = ("torch", "timm", "torchvision")


def _imported(*argv: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m siamreid ARGV``; the top-level packages it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "siamreid", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return proc, modules


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "siamreid")
def test_help_loads_no_torch(command: tuple[str, ...]) -> None:
    proc, modules = _imported(*command, "--help")
    assert proc.returncode == 0
    assert "usage: siamreid" in proc.stdout
    assert "siamreid" in modules  # the probe sees our imports
    assert not modules & set(HEAVY), f"{' '.join(command)} --help imported {modules & set(HEAVY)}"


@pytest.mark.parametrize(
    "argv",
    [
        ("evaluate",),
        ("train", "--bogus"),
        ("export", "--checkpoint", "m"),
        ("synth", "--seed", "x"),
    ],
)
def test_an_argument_error_loads_no_torch(argv: tuple[str, ...]) -> None:
    proc, modules = _imported(*argv)
    assert proc.returncode == 2
    assert "error:" in proc.stderr
    assert not modules & set(HEAVY)
