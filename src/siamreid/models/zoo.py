"""Trained re-id models by name: ``zoo:osnet_x0_25_msmt17`` and the others BoxMOT and torchreid
publish.

Each :class:`ZooEntry` records where the checkpoint is published, what it was trained on, its
input size and licence, and its sha256 where one is published. None of these sources publishes
a hash (torchreid's model zoo and BoxMOT's catalogue give Google Drive links only), so every
``sha256`` is ``None`` and no file is hash-checked until one is known. A file is downloaded
once into the torch hub cache (``torch.hub.get_dir()/checkpoints``) under BoxMOT's file name;
offline, the error says which URL to download and the exact path to put it at, and a file of
that name there is then used.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from siamreid.errors import CheckpointError, InputError

__all__ = ["ZooEntry", "zoo_entries", "zoo_entry", "zoo_file", "zoo_path"]

_TORCHREID = "torchreid model zoo (K. Zhou), as listed by BoxMOT 25"
_LICENCE = "MIT (torchreid)"
_DATASETS = {"market1501": "Market-1501", "dukemtmcreid": "DukeMTMC-reID", "msmt17": "MSMT17"}
_DRIVE = "https://drive.google.com/uc?id="


@dataclass(frozen=True)
class ZooEntry:
    """One published trained model.

    Attributes:
        name: The zoo name (``zoo:NAME``), BoxMOT's file name without ``.pt``.
        arch: The peer architecture (``arch=`` of the importers).
        dataset: The training set.
        url: Where it is published.
        input_size: ``(height, width)`` it was trained at.
        licence: The licence it is published under.
        sha256: The published sha256 of the file; ``None``: none is published.
        source: Who publishes it.
    """

    name: str
    arch: str
    dataset: str
    url: str
    input_size: tuple[int, int] = (256, 128)
    licence: str = _LICENCE
    sha256: str | None = None
    source: str = _TORCHREID

    @property
    def filename(self) -> str:
        """The cached file's name (BoxMOT's, so a BoxMOT download is found too)."""
        return f"{self.name}.pt"


def _torchreid(arch: str, dataset: str, drive_id: str) -> ZooEntry:
    return ZooEntry(f"{arch}_{dataset}", arch, _DATASETS[dataset], _DRIVE + drive_id)


# BoxMOT 25's boxmot/reid/core/catalog.py (TRAINED_URLS): the models siamreid can import.
_ENTRIES: tuple[ZooEntry, ...] = (
    _torchreid("resnet50", "market1501", "1dUUZ4rHDWohmsQXCRe2C_HbYkzz94iBV"),
    _torchreid("resnet50", "dukemtmcreid", "17ymnLglnc64NRvGOitY3BqMRS9UWd1wg"),
    _torchreid("resnet50", "msmt17", "1ep7RypVDOthCRIAqDnn4_N-UhkkFHJsj"),
    _torchreid("mobilenetv2_x1_0", "market1501", "18DgHC2ZJkjekVoqBWszD8_Xiikz-fewp"),
    _torchreid("mobilenetv2_x1_0", "dukemtmcreid", "1q1WU2FETRJ3BXcpVtfJUuqq4z3psetds"),
    _torchreid("mobilenetv2_x1_0", "msmt17", "1j50Hv14NOUAg7ZeB3frzfX-WYLi7SrhZ"),
    _torchreid("osnet_x1_0", "market1501", "1vduhq5DpN2q1g4fYEZfPI17MJeh9qyrA"),
    _torchreid("osnet_x1_0", "dukemtmcreid", "1QZO_4sNf4hdOKKKzKc-TZU9WW1v6zQbq"),
    _torchreid("osnet_x1_0", "msmt17", "112EMUfBPYeYg70w-syK6V6Mx8-Qb9Q1M"),
    _torchreid("osnet_x0_75", "market1501", "1ozRaDSQw_EQ8_93OUmjDbvLXw9TnfPer"),
    _torchreid("osnet_x0_75", "dukemtmcreid", "1IE3KRaTPp4OUa6PGTFL_d5_KQSJbP0Or"),
    _torchreid("osnet_x0_75", "msmt17", "1QEGO6WnJ-BmUzVPd3q9NoaO_GsPNlmWc"),
    _torchreid("osnet_x0_5", "market1501", "1PLB9rgqrUM7blWrg4QlprCuPT7ILYGKT"),
    _torchreid("osnet_x0_5", "dukemtmcreid", "1KoUVqmiST175hnkALg9XuTi1oYpqcyTu"),
    _torchreid("osnet_x0_5", "msmt17", "1UT3AxIaDvS2PdxzZmbkLmjtiqq7AIKCv"),
    _torchreid("osnet_x0_25", "market1501", "1z1UghYvOTtjx7kEoRfmqSMu-z62J6MAj"),
    _torchreid("osnet_x0_25", "dukemtmcreid", "1eumrtiXT4NOspjyEV4j8cHmlOaaCGk5l"),
    _torchreid("osnet_x0_25", "msmt17", "1sSwXSUlj4_tHZequ_iZ8w_Jh0VaRQMqF"),
    _torchreid("osnet_ibn_x1_0", "msmt17", "1q3Sj2ii34NlfxA4LvmHdWO_75NDRmECJ"),
    _torchreid("osnet_ain_x1_0", "msmt17", "1SigwBE6mPdqiJMqhuIY4aqC7--5CsMal"),
)


def zoo_entries() -> tuple[ZooEntry, ...]:
    """Every model in the zoo (what ``siamreid zoo list`` prints)."""
    return _ENTRIES


def zoo_entry(name: str) -> ZooEntry:
    """The zoo model called ``name``.

    Raises:
        InputError: No model has that name (close names are suggested).
    """
    for entry in _ENTRIES:
        if entry.name == name:
            return entry
    names = [e.name for e in _ENTRIES]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise InputError(
        f"'zoo:{name}' is not in the model zoo.{hint} `siamreid zoo list` prints every name."
    )


def zoo_path(entry: ZooEntry) -> Path:
    """Where the entry's file is cached: ``torch.hub.get_dir()/checkpoints/<name>.pt``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / entry.filename


def zoo_file(entry: ZooEntry, *, progress: bool = True) -> Path:
    """The entry's checkpoint in the hub cache, downloaded once (with a progress bar).

    Raises:
        CheckpointError: It is not cached and cannot be downloaded (the URL and the exact path
            to save it at are named), or its sha256 is not the published one.
    """
    path = zoo_path(entry)
    if not path.is_file():
        _download(entry, path, progress)
    _check_sha256(entry, path)
    return path


def _download(entry: ZooEntry, path: Path, progress: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # writes a temporary file beside the target and renames it when complete
        torch.hub.download_url_to_file(_download_url(entry.url), str(path), progress=progress)
    except (OSError, ValueError, RuntimeError) as err:  # URLError is an OSError
        raise CheckpointError(
            f"Cannot download 'zoo:{entry.name}' ({_reason(err)}): download {entry.url} "
            f"and save it as {path}"
        ) from err
    with path.open("rb") as fh:
        if fh.read(1) == b"<":  # an HTML page (a quota or sign-in page), not a checkpoint
            path.unlink()
            raise CheckpointError(
                f"'zoo:{entry.name}': the server sent a web page instead of the file: download "
                f"{entry.url} in a browser and save it as {path}"
            )


def _download_url(url: str) -> str:
    # Google Drive answers a large file's plain link with a confirmation page; confirm=t skips it.
    return f"{url}&export=download&confirm=t" if url.startswith(_DRIVE) else url


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return " ".join(str(reason if reason is not None else err).split()) or type(err).__name__


def _check_sha256(entry: ZooEntry, path: Path) -> None:
    if entry.sha256 is None:
        return  # none published
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != entry.sha256:
        raise CheckpointError(
            f"{str(path)!r} is not 'zoo:{entry.name}': its sha256 is {digest.hexdigest()}, the "
            f"published one is {entry.sha256}. Delete it and download {entry.url} again."
        )
