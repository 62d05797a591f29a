"""Tiny copies of the four re-id benchmarks, laid out as the Datasets guide shows them.

Image files are empty: the adapters read names and lists, never pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from siamreid.data.datasets.cuhk03np import format_cuhk03np_name
from siamreid.data.datasets.dukemtmc import format_dukemtmc_name
from siamreid.data.datasets.market1501 import format_market1501_name
from siamreid.data.datasets.msmt17 import format_msmt17_name

# split folder -> pids; each pid is seen by cameras 0 and 1
_MARKET_STYLE = {"bounding_box_train": (1, 2, 3), "query": (4, 5), "bounding_box_test": (4, 5, 6)}
# list file -> (image folder, labels); val labels are train labels
_MSMT17 = {
    "list_train.txt": ("train", (0, 1)),
    "list_val.txt": ("train", (2,)),
    "list_query.txt": ("test", (0, 1)),
    "list_gallery.txt": ("test", (0, 1, 2)),
}


def write_benchmark_copies(root: Path) -> None:
    """``root/data/{market1501,dukemtmc,msmt17,cuhk03}/`` as the guide's trees."""
    _market_style(
        root / "data/market1501/Market-1501-v15.09.15",
        lambda pid, cam, i: format_market1501_name(pid, cam, frame=i),
    )
    _market_style(
        root / "data/dukemtmc/DukeMTMC-reID",
        lambda pid, cam, i: format_dukemtmc_name(pid, cam, frame=i),
    )
    for variant in ("labeled", "detected"):
        _market_style(
            root / "data/cuhk03/cuhk03-np" / variant,
            lambda pid, cam, i: format_cuhk03np_name(pid, cam, index=i),
        )
    release = root / "data/msmt17/MSMT17_V1"
    for list_name, (folder, labels) in _MSMT17.items():
        lines = []
        for label in labels:
            for cam in (0, 1):
                name = format_msmt17_name(label, cam, index=len(lines), frame=cam)
                relative = f"{label:04d}/{name}"
                (release / folder / relative).parent.mkdir(parents=True, exist_ok=True)
                (release / folder / relative).touch()
                lines.append(f"{relative} {label}")
        (release / list_name).write_text("\n".join(lines) + "\n")


def _market_style(base: Path, name: Callable[[int, int, int], str]) -> None:
    for folder, pids in _MARKET_STYLE.items():
        (base / folder).mkdir(parents=True)
        for index, pid in enumerate(pids):
            for cam in (0, 1):
                (base / folder / name(pid, cam, index)).touch()
