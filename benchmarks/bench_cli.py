"""How fast the command line answers ``--help`` and an argument error, before and after the lazy
imports: wall time of a fresh ``python -m siamreid ...`` and what ``python -X importtime`` says
it imported.

``--before REV`` (default: the last commit before the lazy imports) is unpacked with
``git archive`` into a temporary folder and run from there, so both columns are measured on the
same machine in the same session; ``siamreid`` is imported from each tree by ``PYTHONPATH``.

    python benchmarks/bench_cli.py            # 5 rounds per command, writes docs/benchmarks.md
    python benchmarks/bench_cli.py --quick    # 1 round, writes nothing
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from _report import markdown_table, write_section

REPO = Path(__file__).resolve().parents[1]
BEFORE = "04e6a17"  # main before h-cli: every command imported torch, timm and torchvision
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("train", "--help"),
    ("evaluate", "--help"),
    ("data", "check", "--help"),
    ("export", "--help"),
    ("evaluate",),  # an argument error: --checkpoint is missing
)
HEAVY = ("torch", "timm", "torchvision")


def _unpack(rev: str, into: Path) -> Path:
    """``src/`` of commit ``rev``, written under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _run(src: Path, argv: tuple[str, ...]) -> tuple[float, float, set[str]]:
    """Wall seconds, self-reported import seconds and top-level packages of one invocation."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "siamreid", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"siamreid {' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    imports = [
        line.split("|")
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    ]
    top = [row for row in imports[1:] if not row[2].startswith("  ") and row[2].strip()]
    import_s = sum(int(row[1]) for row in top if row[1].strip().isdigit()) / 1e6
    packages = {row[2].strip().split(".")[0] for row in imports[1:]}
    return wall, import_s, packages


def _measure(src: Path, rounds: int) -> list[tuple[float, float, bool]]:
    """Per command: median wall s, median import s, whether torch/timm/torchvision loaded."""
    results = []
    for argv in COMMANDS:
        runs = [_run(src, argv) for _ in range(rounds)]
        heavy = any(set(HEAVY) & packages for _, _, packages in runs)
        wall = statistics.median(r[0] for r in runs)
        imported = statistics.median(r[1] for r in runs)
        results.append((wall, imported, heavy))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help=f"the old commit (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--quick", action="store_true", help="1 round, write nothing")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        old = _measure(_unpack(args.before, Path(tmp)), rounds)
        new = _measure(REPO / "src", rounds)
    rows = [
        [
            f"`siamreid {' '.join(argv)}`" + (" (argument error)" if "--help" not in argv else ""),
            f"{o[0]:.2f} s ({o[1]:.2f} s imports{', torch' if o[2] else ''})",
            f"{n[0]:.2f} s ({n[1]:.2f} s imports{', torch' if n[2] else ''})",
        ]
        for argv, o, n in zip(COMMANDS, old, new, strict=True)
    ]
    table = markdown_table(["command", f"before ({args.before})", "after"], rows)
    print(table)
    if args.quick:
        return
    body = (
        "## Command-line start-up (`bench_cli.py`)\n\n"
        "Wall time of a fresh `python -X importtime -m siamreid ...` (median of "
        f"{rounds} runs), with the time its imports took by `-X importtime` and whether torch, "
        "timm or torchvision were among them. Before, every command imported the whole library "
        "to build its parser; now `siamreid/__init__.py` and `siamreid.data` export lazily "
        "(`siamreid/_lazy.py`) and each command imports its work inside `run()`, so help and "
        "argument errors load only argparse, numpy and PIL. "
        "`tests/cli/test_main.py` asserts the imports, not the times. Wall times follow the "
        "machine's load (the stamp gives it at the start; on a shared machine the old column "
        "varies several-fold between runs); the after column stays under a second.\n\n" + table
    )
    write_section("cli", body)


if __name__ == "__main__":
    main()
