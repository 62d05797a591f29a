"""benchmarks/_report.py and the --quick mode of the evaluation benchmarks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def report(script_module: Callable[[str], ModuleType]) -> ModuleType:
    """``benchmarks/_report.py``, the one writer of ``docs/benchmarks.md`` sections."""
    return script_module("benchmarks/_report.py")


def test_write_section_creates_replaces_and_keeps_other_sections(
    report: ModuleType, tmp_path: Path
) -> None:
    doc = tmp_path / "docs" / "benchmarks.md"
    report.write_section("eval", "first", doc, machine="test box")
    assert doc.read_text().startswith("# Benchmarks")
    report.write_section("other", "kept", doc, machine="test box")
    report.write_section("eval", "second", doc, machine="box 2")
    text = doc.read_text()
    assert "first" not in text
    assert text.count("<!-- bench:eval:start -->") == 1
    assert "second\n\n_Measured on box 2._\n<!-- bench:eval:end -->" in text
    assert "kept" in text
    assert text.index("bench:eval:start") < text.index("bench:other:start")  # stays in place


def test_write_section_rejects_bad_names_and_stamps_the_machine(
    report: ModuleType, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="section name"):
        report.write_section("Bad Name", "x", tmp_path / "b.md")
    report.write_section("eval", "x", tmp_path / "b.md")
    stamp = (tmp_path / "b.md").read_text()
    assert "cores (" in stamp
    assert "torch " in stamp
    assert "numpy " in stamp


def test_markdown_table(report: ModuleType) -> None:
    table = report.markdown_table(["a", "b"], [[1, "x"], [2.5, "y"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2.5 | y |"]


@pytest.mark.parametrize("script", ["bench_eval.py", "bench_rerank.py", "bench_trainer.py"])
def test_quick_mode_runs_and_writes_nothing(script: str) -> None:
    doc = BENCHMARKS.parent / "docs" / "benchmarks.md"
    before = doc.read_text() if doc.exists() else None
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr  # each script checks its methods agree
    assert "| siamreid" in proc.stdout
    assert (doc.read_text() if doc.exists() else None) == before
