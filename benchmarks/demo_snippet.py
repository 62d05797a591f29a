"""Write the demo's numbers into the docs from the run that produced them.

``make demo`` writes ``runs/demo/metrics.json`` and ``runs/demo/ranked.png``; this script turns
them into ``docs/_snippets/demo_metrics.md`` (included by ``docs/index.md``, linked from the
README) and copies the picture to ``docs/assets/ranked.png``, stamped with the machine and
library versions it runs on. Run it on the machine that ran the demo, right after it::

    make demo && .venv/bin/python benchmarks/demo_snippet.py runs/demo

Nothing else in the docs quotes the demo's numbers: rerun both commands to refresh them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from _report import _cpu_model

REPO = Path(__file__).resolve().parents[1]
SNIPPET = REPO / "docs" / "_snippets" / "demo_metrics.md"
PICTURE = REPO / "docs" / "assets" / "ranked.png"
HEADER = "<!-- Written by benchmarks/demo_snippet.py from a demo run's metrics.json: rerun it. -->"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def render(report: dict[str, Any], machine: str) -> str:
    """The snippet's Markdown for one ``metrics.json`` and a line describing the machine."""
    before, after = report["before"], report["after"]
    height, width = report["input_size"]
    rows = [
        f"| {name} | {_percent(before[key])} | {_percent(after[key])} |"
        for name, key in (("Rank-1", "rank1"), ("Rank-5", "rank5"), ("mAP", "mAP"))
    ]
    return "\n".join(
        [
            HEADER,
            "| held-out synthetic identities | before training | after training |",
            "|---|---|---|",
            *rows,
            "",
            f"{report['backbone']} at {height}x{width}, {report['epochs']} epochs: "
            f"{_duration(report['train_seconds'])} of training at "
            f"{report['images_per_second']:.0f} images/s on {machine}.",
            "",
        ]
    )


def machine_line() -> str:
    """Cores, CPU model, the load the demo shared them with, versions and today's date."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cores} CPU cores ({_cpu_model()}; 5-minute load {load:.1f} as the run ended), "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"{dt.date.today().isoformat()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("run", type=Path, help="the demo's run folder (runs/demo)")
    parser.add_argument("--snippet", type=Path, default=SNIPPET, help="the Markdown to write")
    parser.add_argument("--picture", type=Path, default=PICTURE, help="where ranked.png goes")
    args = parser.parse_args()
    report = json.loads((args.run / "metrics.json").read_text("utf-8"))
    args.snippet.parent.mkdir(parents=True, exist_ok=True)
    args.snippet.write_text(render(report, machine_line()), "utf-8")
    shutil.copyfile(args.run / "ranked.png", args.picture)
    print(f"wrote {args.snippet} and {args.picture}")


if __name__ == "__main__":
    main()
