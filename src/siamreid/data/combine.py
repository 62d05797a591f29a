"""Several re-id datasets as one, without merging their people or their cameras.

Person ``0002`` of Market-1501 and person ``0002`` of DukeMTMC-reID are different people, and
camera ``c1`` of one is not camera ``c1`` of the other. :func:`combine_splits` therefore shifts
each dataset's ids and cameras past those of the datasets before it:

- **train**: each dataset's training pids (``0..N_k-1``) are relabelled to follow the previous
  datasets', so the combined training set has ``0..sum(N_k)-1`` and an identity classifier is
  sized to the total (:attr:`ReidSplits.num_train_pids`);
- **query / gallery**: positive pids are shifted by the largest positive query/gallery pid of
  the datasets before; ``0`` (a distractor) and negative pids (junk) stay as they are, since they
  name nobody in any dataset;
- **cameras**: shifted by the number of cameras (largest camid + 1, over all three splits) of
  the datasets before; a sample without a camera keeps ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from siamreid.data.samples import ReidSample, ReidSplits
from siamreid.errors import ConfigError

__all__ = ["combine_splits"]


@dataclass(frozen=True)
class _Offsets:
    train_pid: int = 0
    test_pid: int = 0
    camid: int = 0


def combine_splits(parts: Sequence[ReidSplits], *, name: str | None = None) -> ReidSplits:
    """One :class:`ReidSplits` holding every part, with ids and cameras kept apart.

    Args:
        parts: The datasets, in order (the first keeps its own ids and cameras).
        name: Name of the result; default: the parts' names joined by ``" + "``.

    Returns:
        The combined splits (see the module docstring for the rules); each part's notes are kept,
        prefixed with the part's name. A single part comes back unchanged (renamed if ``name``).

    Raises:
        ConfigError: ``parts`` is empty.

    Example:
        >>> both = combine_splits([market, duke])  # doctest: +SKIP
        >>> both.num_train_pids == market.num_train_pids + duke.num_train_pids  # doctest: +SKIP
        True
    """
    if not parts:
        raise ConfigError("combine_splits needs at least one ReidSplits; got none.")
    combined_name = name if name is not None else " + ".join(p.name for p in parts)
    if len(parts) == 1:
        only = parts[0]
        return ReidSplits(only.train, only.query, only.gallery, combined_name, only.notes)
    train: list[ReidSample] = []
    query: list[ReidSample] = []
    gallery: list[ReidSample] = []
    notes: list[str] = []
    offsets = _Offsets()
    for part in parts:
        train.extend(_shift_train(part.train, offsets))
        query.extend(_shift_test(s, offsets) for s in part.query)
        gallery.extend(_shift_test(s, offsets) for s in part.gallery)
        notes.extend(f"{part.name}: {note}" for note in part.notes)
        offsets = _next_offsets(part, offsets)
    return ReidSplits(train, query, gallery, combined_name, tuple(notes))


def _shift_camid(camid: int | None, offsets: _Offsets) -> int | None:
    return None if camid is None else camid + offsets.camid


def _shift_train(samples: Sequence[ReidSample], offsets: _Offsets) -> list[ReidSample]:
    # relabel in increasing pid order rather than add: the result is 0..total-1 even when a
    # part's training pids are not exactly 0..N-1
    label = {pid: offsets.train_pid + i for i, pid in enumerate(sorted({s.pid for s in samples}))}
    return [ReidSample(s.path, label[s.pid], _shift_camid(s.camid, offsets)) for s in samples]


def _shift_test(sample: ReidSample, offsets: _Offsets) -> ReidSample:
    pid = sample.pid + offsets.test_pid if sample.pid > 0 else sample.pid
    return ReidSample(sample.path, pid, _shift_camid(sample.camid, offsets))


def _next_offsets(part: ReidSplits, offsets: _Offsets) -> _Offsets:
    test_pids = [s.pid for s in (*part.query, *part.gallery) if s.pid > 0]
    camids = [s.camid for s in (*part.train, *part.query, *part.gallery) if s.camid is not None]
    return _Offsets(
        train_pid=offsets.train_pid + part.num_train_pids,
        test_pid=offsets.test_pid + max(test_pids, default=0),
        camid=offsets.camid + (max(camids) + 1 if camids else 0),
    )
