"""Shared helpers for the benchmark scripts: machine facts, child processes, docs/benchmarks.md.

Every benchmark times each method in its own child process (so peak memory is that method's
alone), prints a table, and replaces its own section of ``docs/benchmarks.md``::

    from _report import emit, markdown_table, run_child, write_section

    result = run_child([__file__, "--child", "mine"])  # the child ends with emit({...})
    # in the child: base = reset_peak_rss(); ...work...; emit({"peak_mb": peak_rss_mb() - base})
    write_section("eval", "### Evaluation\\n\\n" + markdown_table(headers, rows))

A section sits between ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``; other
sections are left alone. ``write_section`` stamps it with the machine, versions and date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DOC_PATH",
    "emit",
    "machine_summary",
    "markdown_table",
    "peak_rss_mb",
    "reset_peak_rss",
    "rss_mb",
    "run_child",
    "write_section",
]

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

_INTRO = """# Benchmarks

Each section is written by the script in `benchmarks/` named in it (`make bench` runs them);
do not edit between the `bench:` markers by hand. Times are wall-clock seconds on the machine
stated in the section; peak memory is the peak resident set size of a child process that runs
one method, above what it held after its imports (importing torch alone takes ~0.7 GB here).
"""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_summary() -> str:
    """One line: usable cores, CPU model, load, library versions and today's date."""
    import numpy
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cores} cores ({_cpu_model()}, load {load:.1f} at start), Python "
        f"{platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}, "
        f"{dt.date.today().isoformat()}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; floats are printed as given (format them first)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, doc: Path = DOC_PATH, machine: str | None = None) -> Path:
    """Replace (or append) the section ``name`` of ``doc``, stamped with ``machine_summary()``.

    Creates ``doc`` with a short introduction if it does not exist.
    """
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        raise ValueError(f"section name must be lowercase letters, digits, - or _, got {name!r}")
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    stamp = f"_Measured on {machine or machine_summary()}._"
    section = f"{start}\n{body.strip()}\n\n{stamp}\n{end}"
    text = doc.read_text() if doc.exists() else _INTRO
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return doc


def _status_mb(field: str) -> float | None:
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) / 1024 if match else None


def rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    current = _status_mb("VmRSS")
    return peak_rss_mb() if current is None else current


def peak_rss_mb() -> float:
    """Peak resident set size of this process (since :func:`reset_peak_rss`), in MiB.

    Reads ``VmHWM``: ``getrusage``'s ``ru_maxrss`` would also count the parent's memory, which
    a child inherits across ``fork``/``exec``.
    """
    peak = _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if peak is None else peak


def reset_peak_rss() -> float:
    """Restart the peak-memory count from the current RSS (Linux); return that RSS in MiB.

    Call it after the imports: ``peak_rss_mb() - reset_peak_rss()`` is then what the measured
    code added.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return rss_mb()


def emit(result: dict[str, Any]) -> None:
    """Child side: print the result as the last line of stdout, for :func:`run_child`."""
    print(json.dumps(result), flush=True)


def run_child(
    argv: Sequence[str], threads: int = 2, timeout: float | None = None
) -> dict[str, Any]:
    """Run ``python *argv`` with ``threads`` BLAS/OpenMP threads; return its :func:`emit` dict."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env=env, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
