"""The CI and docs workflows test what the project supports, with the pins constraints.txt holds."""

from __future__ import annotations

import re

import yaml

from .markdown_blocks import REPO

WORKFLOWS = REPO / ".github" / "workflows"


def _pins() -> dict[str, str]:
    text = (REPO / "constraints.txt").read_text("utf-8")
    return dict(re.findall(r"^([\w-]+)==([\w.+-]+)", text, re.MULTILINE))


def _pinned_in(text: str) -> dict[str, str]:
    return dict(re.findall(r"\b(torch|torchvision)==([\w.+-]+)", text))


def test_explicit_torch_pins_match_constraints() -> None:
    pins = _pins()
    for name in ("ci.yml", "docs.yml"):
        found = _pinned_in((WORKFLOWS / name).read_text("utf-8"))
        assert found, f"{name} installs no pinned torch"
        assert found == {k: pins[k] for k in found}, f"{name} pins {found}, constraints.txt {pins}"


def test_ci_runs_make_test_on_linux_and_macos_for_every_supported_python() -> None:
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text("utf-8"))
    matrix = ci["jobs"]["test"]["strategy"]["matrix"]
    classifiers = (REPO / "pyproject.toml").read_text("utf-8")
    supported = re.findall(r"Programming Language :: Python :: (3\.\d+)", classifiers)
    assert sorted(matrix["python"]) == sorted(supported)
    assert {"ubuntu-latest", "macos-latest"} <= set(matrix["os"])
    runs = [step.get("run", "") for step in ci["jobs"]["test"]["steps"]]
    assert any(run.startswith("make test") for run in runs)


def test_docs_workflow_builds_strict_and_deploys_to_pages() -> None:
    docs = yaml.safe_load((WORKFLOWS / "docs.yml").read_text("utf-8"))
    steps = [s for job in docs["jobs"].values() for s in job["steps"]]
    uses = {s["uses"].split("@")[0] for s in steps if "uses" in s}
    assert {
        "actions/configure-pages",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    } <= uses
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "mkdocs build --strict" in runs
    assert 'pip install -c constraints.txt -e ".[docs]"' in runs
