"""Reading Market-style benchmarks: three split folders of images whose names carry pid and camera.

Market-1501, DukeMTMC-reID and CUHK03-NP share one layout (``bounding_box_train/``, ``query/``,
``bounding_box_test/``) and one set of rules, kept here once:

- the dataset folder or the folder that contains it may be given (:func:`locate`);
- only image files are read, sorted by name; a name that does not parse is an error;
- junk (pid ``-1``) is dropped everywhere, distractors (pid ``0``) stay in the gallery only
  (:func:`market_rules`), as torchreid does;
- train pids are relabelled ``0..N-1`` in increasing order of the original pid (:func:`relabel`);
  query and gallery keep their original pids.

Each adapter module keeps its own file-name parser, folder names and source text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from siamreid.data.images import IMAGE_SUFFIXES
from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import DatasetLayoutError

__all__ = [
    "DISTRACTOR_PID",
    "JUNK_PID",
    "SPLIT_FOLDERS",
    "NameParser",
    "locate",
    "market_rules",
    "read_market_style",
    "read_split_folder",
    "relabel",
]

SPLIT_FOLDERS = ("bounding_box_train", "query", "bounding_box_test")
JUNK_PID = -1
DISTRACTOR_PID = 0

NameParser = Callable[[str], tuple[int, int]]
"""A file name -> ``(pid, 0-based camid)``, raising :class:`DatasetLayoutError` if it does not
parse."""


def locate(
    root: Path,
    subfolders: Sequence[str],
    *,
    dataset: str,
    source: str,
    root_itself: bool = True,
) -> Path:
    """The first of ``root`` (if ``root_itself``) and ``root / sub`` (for each of
    ``subfolders``) that holds ``bounding_box_train/``.

    Raises:
        DatasetLayoutError: ``root`` does not exist, or none of the candidates holds the splits.
    """
    candidates = [root / sub for sub in subfolders]
    for candidate in [root, *candidates] if root_itself else candidates:
        if (candidate / SPLIT_FOLDERS[0]).is_dir():
            return candidate
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset} root {str(root)!r} does not exist. {source}")
    places = " or in ".join(f"{sub}/" for sub in subfolders)
    where = f"there or in {places}" if root_itself else f"in {places}"
    raise DatasetLayoutError(
        f"No {dataset} dataset under {str(root)!r}: expected "
        f"{', '.join(s + '/' for s in SPLIT_FOLDERS)} {where}. {source}"
    )


def read_split_folder(
    folder: Path, parse: NameParser, *, dataset: str, source: str
) -> list[ReidSample]:
    """The image files of ``folder`` (sorted by name) as samples with their parsed pid and camid.

    Raises:
        DatasetLayoutError: ``folder`` is missing, a file name does not parse, or no image shows
            a real person (only junk or distractors, or nothing).
    """
    if not folder.is_dir():
        raise DatasetLayoutError(
            f"{dataset} split folder {str(folder)!r} is missing; a {dataset} copy holds "
            f"{', '.join(s + '/' for s in SPLIT_FOLDERS)}. {source}"
        )
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    samples = []
    for path in paths:
        try:
            pid, camid = parse(path.name)
        except DatasetLayoutError as err:
            raise DatasetLayoutError(f"In {str(folder)!r}: {err}") from None
        samples.append(ReidSample(path, pid, camid))
    if not any(s.pid > DISTRACTOR_PID for s in samples):
        raise DatasetLayoutError(
            f"{dataset} split folder {str(folder)!r} holds no image of a real person (only "
            f"junk/distractors, or nothing: {len(samples)} images). Re-extract the archive. "
            f"{source}"
        )
    return samples


def read_market_style(
    base: Path, parse: NameParser, *, name: str, dataset: str, source: str
) -> ReidSplits:
    """The three split folders under ``base``, with :func:`market_rules` applied."""
    train, query, gallery = (
        read_split_folder(base / folder, parse, dataset=dataset, source=source)
        for folder in SPLIT_FOLDERS
    )
    return market_rules(train, query, gallery, name=name)


def market_rules(
    train: list[ReidSample], query: list[ReidSample], gallery: list[ReidSample], *, name: str
) -> ReidSplits:
    """Junk dropped everywhere, distractors kept in the gallery only, train relabelled."""
    return ReidSplits(
        train=relabel([s for s in train if s.pid > DISTRACTOR_PID]),
        query=[s for s in query if s.pid > DISTRACTOR_PID],
        gallery=[s for s in gallery if s.pid != JUNK_PID],
        name=name,
    )


def relabel(samples: Sequence[ReidSample]) -> list[ReidSample]:
    """Pids mapped to ``0..N-1`` in increasing order of the original pid; order kept."""
    label = {pid: i for i, pid in enumerate(sorted({s.pid for s in samples}))}
    return [ReidSample(s.path, label[s.pid], s.camid) for s in samples]
