"""Peers' checkpoints (torchreid, BoxMOT, fast-reid) read as they are and mapped onto siamreid.

One module per peer format (:mod:`.torchreid`, :mod:`.fastreid`) names its architectures
(:class:`Arch`: the timm backbone, the key renaming, where the neck and classifier live), says
whether a state dict looks like its own (``claims``) and which preprocessing it was trained
with (``data_config``); a next format is one more module added to ``FORMATS``. Files are read
with ``torch.load(weights_only=True)``: nothing in them is executed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import timm

from siamreid.errors import InputError
from siamreid.models.backbones import BackboneDataConfig
from siamreid.models.config import ModelConfig
from siamreid.models.importers import fastreid, torchreid
from siamreid.models.importers._fit import Arch, closest_error, fit, head_state
from siamreid.models.importers._read import StateDict, read_state_dict

__all__ = ["Arch", "PeerCheckpoint", "peer_arch_names", "read_peer_checkpoint"]


class _Format(Protocol):
    NAME: str
    ARCHS: tuple[Arch, ...]

    def claims(self, state: StateDict) -> bool: ...

    def data_config(self, state: StateDict) -> BackboneDataConfig: ...


FORMATS: tuple[_Format, ...] = (fastreid, torchreid)  # the more specific key layout first


@dataclass(frozen=True)
class PeerCheckpoint:
    """A peer's checkpoint mapped onto a :class:`~siamreid.models.SiameseEmbedder`.

    Attributes:
        path: The file read.
        format: The peer format (``"torchreid"`` covers BoxMOT, ``"fast-reid"``).
        arch: The peer's architecture name (``"osnet_x0_25"``, ``"fastreid_bot_r50"``, ...).
        config: The model to build (backbone, width, classes, input size).
        data: The preprocessing the peer trained with.
        state: The full siamreid state dict (``backbone.*``, ``head.*``).
    """

    path: Path
    format: str
    arch: str
    config: ModelConfig
    data: BackboneDataConfig
    state: StateDict


def peer_arch_names() -> list[str]:
    """Every architecture name ``arch=`` accepts."""
    return [a.name for f in FORMATS for a in f.ARCHS]


def read_peer_checkpoint(
    path: str | os.PathLike[str],
    *,
    arch: str | None = None,
    input_size: tuple[int, int] = (256, 128),
) -> PeerCheckpoint:
    """Read a torchreid / BoxMOT / fast-reid checkpoint and map it onto siamreid's keys.

    The architecture and width are read from the key names and shapes, unless ``arch`` names
    one; the identity classifier is kept when the file has one.

    Args:
        path: A ``.pth`` / ``.pt`` / ``.pth.tar`` file.
        arch: The peer's architecture name (see :func:`peer_arch_names`); ``None``: detect.
        input_size: ``(height, width)`` the model was trained at (256x128 for every peer model).

    Raises:
        CheckpointError: The file is unreadable, holds objects other than tensors, or fits no
            architecture (the closest one and its first missing and unexpected keys are named).
        InputError: ``arch`` is not a known name.

    Example:
        >>> peer = read_peer_checkpoint("osnet_x0_25_msmt17.pt")  # doctest: +SKIP
        >>> peer.arch, peer.config.embedding_dim
        ('osnet_x0_25', 512)
    """
    file = Path(path)
    state = read_state_dict(file)
    candidates = _candidates(state, arch)
    # Names in the file name first (BoxMOT's osnet_x0_25_msmt17.pt): usually the first fits.
    candidates.sort(key=lambda c: -len(c[1].name) if c[1].name in file.name else 0)
    fits = []
    for _, candidate in candidates:
        fits.append(fit(state, candidate))
        if fits[-1].exact:
            break
    else:
        names = sorted({fmt.NAME for fmt, _ in candidates})
        raise closest_error(fits, str(file), " / ".join(names))
    fmt, best = candidates[len(fits) - 1][0], fits[-1]
    head, classes = head_state(state, best)
    config = ModelConfig(
        backbone=best.arch.backbone,
        embedding_dim=best.width,
        pretrained=False,
        num_classes=classes,
        input_size=input_size,
        **best.arch.config,
    )
    ours = {f"backbone.{k}": v for k, v in best.backbone.items()} | head
    return PeerCheckpoint(file, fmt.NAME, best.arch.name, config, fmt.data_config(state), ours)


def _candidates(state: StateDict, arch: str | None) -> list[tuple[_Format, Arch]]:
    if arch is not None:
        named = [(f, a) for f in FORMATS for a in f.ARCHS if a.name == arch]
        if not named:
            raise InputError(
                f"arch={arch!r} is not an architecture siamreid imports; known: "
                f"{', '.join(peer_arch_names())}."
            )
        return named
    claimed = [f for f in FORMATS if f.claims(state)] or list(FORMATS)
    return [(f, a) for f in claimed[:1] for a in f.ARCHS if timm.is_model(a.backbone)]
