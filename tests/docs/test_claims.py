"""Claims a newcomer checks first: install, release, the demo's numbers, the search metric."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from .markdown_blocks import DOCS, REPO

SNIPPET = DOCS / "_snippets" / "demo_metrics.md"
README = (REPO / "README.md").read_text("utf-8")


def test_demo_numbers_come_from_the_generated_snippet(tmp_path: Path) -> None:
    run = tmp_path / "demo"
    run.mkdir()
    metric = {"rank1": 0.003, "rank5": 0.02, "rank10": 0.05, "mAP": 0.011, "mINP": 0.004}
    after = {"rank1": 0.662, "rank5": 0.8, "rank10": 0.9, "mAP": 0.556, "mINP": 0.2}
    report = {
        "before": metric,
        "after": after,
        "train_seconds": 111.4,
        "images_per_second": 186.2,
        "epochs": 12,
        "backbone": "resnet18",
        "input_size": [64, 32],
    }
    (run / "metrics.json").write_text(json.dumps(report))
    (run / "ranked.png").write_bytes(b"\x89PNG picture")
    snippet, picture = tmp_path / "out" / "demo.md", tmp_path / "ranked.png"
    script = REPO / "benchmarks" / "demo_snippet.py"
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            str(run),
            "--snippet",
            str(snippet),
            "--picture",
            str(picture),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    text = snippet.read_text("utf-8")
    assert "| Rank-1 | 0.3% | 66.2% |" in text
    assert "| mAP | 1.1% | 55.6% |" in text
    assert "resnet18 at 64x32, 12 epochs: 1 min 51 s of training at 186 images/s" in text
    assert picture.read_bytes() == b"\x89PNG picture"
    committed = SNIPPET.read_text("utf-8")
    assert committed.splitlines()[0] == text.splitlines()[0]  # written by the script


def test_no_page_quotes_demo_numbers_by_hand() -> None:
    """The snippet is the one place: the pages that talk about the demo include or link it."""
    index = (DOCS / "index.md").read_text("utf-8")
    assert '--8<-- "docs/_snippets/demo_metrics.md"' in index
    assert "docs/_snippets/demo_metrics.md" in README
    for text in (index, README):
        assert not re.search(r"mAP (from )?\d\.\d+ ?(→|to) ?\d\.\d+", text)


def test_search_metric_is_the_models_own() -> None:
    for text in (README, (DOCS / "index.md").read_text("utf-8")):
        assert "searched by Euclidean distance" not in text
        assert "ModelConfig.metric" in text


def test_install_says_how_until_a_release_exists() -> None:
    assert "not on PyPI yet" in README
    install = (DOCS / "installation.md").read_text("utf-8")
    assert "python -m build" in install
    assert "https://download.pytorch.org/whl/cpu" in install


def test_release_workflow_builds_checks_and_publishes_on_tags() -> None:
    release = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text("utf-8"))
    triggers = release[True] if True in release else release["on"]  # YAML 1.1 reads on: as True
    assert triggers["push"]["tags"]
    jobs = release["jobs"]
    build_runs = " ".join(s.get("run", "") for s in jobs["build"]["steps"])
    assert "python -m build" in build_runs
    assert "twine check" in build_runs
    publish = jobs["publish"]
    assert publish["needs"] == "build"
    assert publish["permissions"]["id-token"] == "write"  # PyPI trusted publishing
    assert "refs/tags/" in publish["if"]
    uses = [s.get("uses", "") for s in publish["steps"]]
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)
