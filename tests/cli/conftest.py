"""The shared tiny model saved once, and a runner for ``siamreid`` commands, for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import Result, Runner

from siamreid.cli.main import main
from siamreid.models import SiameseEmbedder
from siamreid.models.serialization import save_pretrained


@pytest.fixture(scope="session")
def gallery(synthetic_root: Path) -> Path:
    """The synthetic Market-1501 gallery folder (``bounding_box_test``), junk images included."""
    return synthetic_root / "bounding_box_test"


@pytest.fixture(scope="session")
def checkpoint(tiny_model: SiameseEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_pretrained(tiny_model, tmp_path_factory.mktemp("cli") / "model")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run ``siamreid *args`` in-process; returns the exit code and the captured output."""

    def run(*args: object) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
