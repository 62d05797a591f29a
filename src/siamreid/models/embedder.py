"""SiameseEmbedder: one shared timm backbone and an embedding head."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from siamreid._checks import is_int
from siamreid._rng import seeded_rng
from siamreid.data.images import load_image
from siamreid.data.transforms import TransformConfig, build_eval_transform
from siamreid.errors import BackboneError, CheckpointError, InputError
from siamreid.models import serialization
from siamreid.models.backbones import (
    BackboneDataConfig,
    backbone_data_config,
    create_backbone,
    feature_width,
)
from siamreid.models.config import ModelConfig, Pooling
from siamreid.models.heads import BNNeckHead, HeadOutput
from siamreid.typing import ImageInput, ImageLike

__all__ = ["ImageInput", "SiameseEmbedder", "load_pretrained"]


class SiameseEmbedder(nn.Module):
    """A Siamese network: every input goes through the same backbone and head.

    Args:
        backbone: Any timm model name; unknown names raise with close matches.
        embedding_dim: Embedding width.
        pretrained: Load timm's ImageNet weights (offline: pass ``weights=`` or ``False``).
        weights: Local ImageNet weights file for the backbone.
        num_classes: Identity classifier width for an identity loss (0: no classifier).
        input_size: ``(height, width)`` the eval transform resizes images to.
        normalize: L2-normalise the embeddings.
        drop_path_rate: Stochastic depth rate, for backbones that support it.
        pooling: ``"avg"`` or ``"gem"`` (generalized-mean pooling, learnable exponent).
        last_stride: ``1`` for a ResNet's last stage without downsampling; ``None``: as built.
        seed: Initialise the new layers from this seed: the same seed gives the same initial
            weights, and the global RNG is left as it was. ``None`` draws from the global RNG.

    Example:
        >>> model = SiameseEmbedder("resnet18", embedding_dim=128, pretrained=False, seed=0)
        >>> model.embed(torch.zeros(2, 3, 256, 128)).shape
        torch.Size([2, 128])
    """

    def __init__(
        self,
        backbone: str = "efficientnet_b0",
        embedding_dim: int = 512,
        *,
        pretrained: bool = True,
        weights: str | os.PathLike[str] | None = None,
        num_classes: int = 0,
        input_size: tuple[int, int] = (256, 128),
        normalize: bool = True,
        drop_path_rate: float | None = None,
        pooling: Pooling = "avg",
        last_stride: Literal[1] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.config = ModelConfig(
            backbone=backbone,
            embedding_dim=embedding_dim,
            pretrained=pretrained,
            weights=None if weights is None else str(weights),
            num_classes=num_classes,
            input_size=input_size,
            normalize=normalize,
            drop_path_rate=drop_path_rate,
            pooling=pooling,
            last_stride=last_stride,
        )
        with nullcontext() if seed is None else seeded_rng(seed):
            self.backbone = create_backbone(
                backbone,
                pretrained=pretrained,
                weights=weights,
                drop_path_rate=drop_path_rate,
                img_size=self.config.input_size,
                pooling=pooling,
                last_stride=last_stride,
            )
            width = feature_width(self.backbone)
            self.head = BNNeckHead(width, embedding_dim, num_classes, normalize)
        self.data_config: BackboneDataConfig = backbone_data_config(self.backbone)
        self.eval_transform = build_eval_transform(
            TransformConfig(height=input_size[0], width=input_size[1]),
            mean=self.data_config.mean,
            std=self.data_config.std,
            interpolation=self.data_config.interpolation,
        )

    @classmethod
    def from_config(
        cls, config: ModelConfig, *, seed: int | None = None, **overrides: Any
    ) -> SiameseEmbedder:
        """Build a model from a :class:`ModelConfig` (fields may be overridden by keyword).

        ``seed`` seeds the initial weights (see the class arguments).
        """
        cfg = replace(config, **overrides) if overrides else config
        return cls(
            cfg.backbone,
            cfg.embedding_dim,
            pretrained=cfg.pretrained,
            weights=cfg.weights,
            num_classes=cfg.num_classes,
            input_size=cfg.input_size,
            normalize=cfg.normalize,
            drop_path_rate=cfg.drop_path_rate,
            pooling=cfg.pooling,
            last_stride=cfg.last_stride,
            seed=seed,
        )

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``model.safetensors`` + ``config.json`` to ``directory`` (see serialization)."""
        return serialization.save_pretrained(self, directory)

    @classmethod
    def from_pretrained(
        cls, source: str | os.PathLike[str], *, arch: str | None = None
    ) -> SiameseEmbedder:
        """Rebuild a saved embedder exactly (same embeddings, bit for bit on CPU), in eval mode.

        The backbone is built with ``pretrained=False`` from the saved config, with the
        preprocessing it was trained with, and then takes the saved weights; nothing in a file
        is executed (a peer's checkpoint is read with ``torch.load(weights_only=True)`` and
        mapped onto siamreid's keys, see :func:`siamreid.models.importers.read_peer_checkpoint`).

        Args:
            source: A folder written by :meth:`save_pretrained`; a training run folder, its
                ``train/checkpoints`` folder or one ``epoch_XXXX`` checkpoint folder; or
                ``"hf-hub:org/name"`` (needs ``huggingface_hub`` and the network or its cache);
                a torchreid / BoxMOT / fast-reid checkpoint file (``.pth``, ``.pt``,
                ``.pth.tar``), or ``"zoo:NAME"`` (see :func:`siamreid.models.zoo.zoo_entries`).
            arch: A peer checkpoint's architecture (``"osnet_x0_25"``...); ``None``: read it
                from the keys.

        Raises:
            CheckpointError: A file is missing or corrupt, the format is newer than this
                siamreid, or the weights do not fit the config (the file and field are named).

        Example:
            >>> model = SiameseEmbedder.from_pretrained("runs/demo/model")  # doctest: +SKIP
            >>> model.embed(["query.jpg"]).shape  # doctest: +SKIP
            torch.Size([1, 512])
        """
        located = serialization.locate(source, arch=arch)
        try:
            model = cls.from_config(located.config)
        except BackboneError as err:
            raise CheckpointError(
                f"{str(located.config_path)!r}: field 'backbone' cannot be built: {err}"
            ) from err
        if located.data is not None and located.data != model.data_config:
            model._use_data_config(located.data)  # what it was trained with wins over timm's
        serialization.load_weights(model, located)
        return model.eval()

    def _use_data_config(self, data: BackboneDataConfig) -> None:
        height, width = self.config.input_size
        self.data_config = data
        self.eval_transform = build_eval_transform(
            TransformConfig(height=height, width=width),
            mean=data.mean,
            std=data.std,
            interpolation=data.interpolation,
        )

    @property
    def embedding_dim(self) -> int:
        """Width of the embeddings."""
        return self.config.embedding_dim

    @property
    def backbone_name(self) -> str:
        """The timm name of the backbone."""
        return self.config.backbone

    @property
    def weights_digest(self) -> str:
        """The sha256 of the weights file :meth:`save_pretrained` would write now.

        Saved indexes record it and refuse queries embedded with other weights.
        """
        return serialization.weights_digest(self)

    def forward_train(self, images: torch.Tensor) -> HeadOutput:
        """Features, embeddings and logits for a preprocessed batch (what losses consume)."""
        return self.head(self.backbone(images))  # type: ignore[no-any-return]

    @overload
    def forward(self, images: torch.Tensor) -> torch.Tensor: ...

    @overload
    def forward(
        self, images: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ...

    def forward(
        self,
        images: torch.Tensor,
        positive: torch.Tensor | None = None,
        negative: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Embed one batch, or an (anchor, positive, negative) triple through the same weights."""
        if positive is None and negative is None:
            return self.forward_train(images).embeddings
        if positive is None or negative is None:
            raise InputError("forward takes one batch, or anchor, positive and negative together.")
        n_a, n_p = len(images), len(positive)
        out = self.forward_train(torch.cat([images, positive, negative])).embeddings
        return out[:n_a], out[n_a : n_a + n_p], out[n_a + n_p :]

    def preprocess(self, images: ImageInput) -> torch.Tensor:
        """Eval-transform paths, PIL images or uint8 arrays into a batch; tensors pass through."""
        if isinstance(images, torch.Tensor):
            return images.unsqueeze(0) if images.dim() == 3 else images
        items = _as_list(images)
        return torch.stack([self.eval_transform(load_image(item)) for item in items])

    @torch.inference_mode()
    def embed(
        self,
        images: ImageInput,
        *,
        batch_size: int = 64,
        flip: bool = False,
        num_workers: int = 0,
        progress: str | None = None,
    ) -> torch.Tensor:
        """Embeddings for images, in eval mode, batched; returns float32 ``[N, D]`` on CPU.

        The one way siamreid embeds images: the CLI commands and validation call it too.

        Args:
            images: Image paths, PIL images, uint8 HWC arrays (one or a sequence), or an
                already preprocessed ``[N, 3, H, W]`` tensor.
            batch_size: Images per forward pass.
            flip: Average the embeddings of each image and its horizontal mirror.
            num_workers: Processes decoding images (DataLoader workers; 0: this process).
            progress: Show a progress bar with this label (on terminals only).

        Example:
            >>> feats = model.embed(["a.jpg", "b.jpg"])  # doctest: +SKIP
        """
        outputs = [
            self._embed_batch(batch, flip).float().cpu()
            for batch in self._batches(images, batch_size, num_workers, progress)
        ]
        return torch.cat(outputs) if outputs else torch.empty(0, self.embedding_dim)

    @torch.inference_mode()
    def embed_outputs(
        self,
        images: ImageInput,
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        progress: str | None = None,
    ) -> HeadOutput:
        """Pre-neck features and embeddings (float32, CPU) of images, as :meth:`embed` reads them.

        What validation needs: the metric losses score the features, retrieval the embeddings.
        """
        feats: list[torch.Tensor] = []
        embs: list[torch.Tensor] = []
        for batch in self._batches(images, batch_size, num_workers, progress):
            out = self.forward_train(batch)
            feats.append(out.features.float().cpu())
            embs.append(out.embeddings.float().cpu())
        if not embs:
            empty = torch.empty(0, self.embedding_dim)
            return HeadOutput(empty, empty.clone(), None)
        return HeadOutput(torch.cat(feats), torch.cat(embs), None)

    def _batches(
        self, images: ImageInput, batch_size: int, num_workers: int, progress: str | None
    ) -> Iterator[torch.Tensor]:
        """Preprocessed batches on the model's device, in eval mode while they are consumed."""
        if not is_int(batch_size) or batch_size <= 0:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if not is_int(num_workers) or num_workers < 0:
            raise InputError(f"num_workers must be an integer >= 0, got {num_workers!r}.")
        device = next(self.parameters()).device
        if isinstance(images, torch.Tensor):
            chunks: Iterable[torch.Tensor] = _chunks(images, int(batch_size))
        else:
            chunks = DataLoader(
                _Images(_as_list(images), self.eval_transform),
                batch_size=int(batch_size),
                num_workers=int(num_workers),
                pin_memory=device.type == "cuda",
            )
        if progress is not None:
            chunks = tqdm(chunks, desc=progress, unit="batch", disable=None)
        with _eval_mode(self):
            for chunk in chunks:
                yield chunk.to(device, non_blocking=True)

    def _embed_batch(self, batch: torch.Tensor, flip: bool) -> torch.Tensor:
        if not flip:
            embeddings: torch.Tensor = self(batch)
            return embeddings
        neck = self._neck(batch) + self._neck(batch.flip(-1))
        return nn.functional.normalize(neck, dim=1) if self.config.normalize else neck / 2

    def _neck(self, batch: torch.Tensor) -> torch.Tensor:
        return self.head.bn(self.head.proj(self.backbone(batch)))  # type: ignore[no-any-return]


def _as_list(images: ImageInput) -> list[ImageLike]:
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if isinstance(images, np.ndarray):
        return [images] if images.ndim == 3 else list(images)
    return list(images)


def _chunks(images: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    batch = images.unsqueeze(0) if images.dim() == 3 else images
    yield from torch.split(batch, size)


class _Images(Dataset[torch.Tensor]):
    """Images (paths, PIL images or arrays) through the eval transform, for a DataLoader."""

    def __init__(self, items: list[ImageLike], transform: Callable[[Any], torch.Tensor]) -> None:
        self.items, self.transform = items, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        image: torch.Tensor = self.transform(load_image(self.items[index]))
        return image


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def load_pretrained(source: str | os.PathLike[str], *, arch: str | None = None) -> SiameseEmbedder:
    """A saved embedder, in eval mode: :meth:`SiameseEmbedder.from_pretrained` as a function.

    Example:
        >>> model = load_pretrained("runs/demo/model")  # doctest: +SKIP
        >>> boxmot = load_pretrained("zoo:osnet_x0_25_msmt17")  # doctest: +SKIP
    """
    return SiameseEmbedder.from_pretrained(source, arch=arch)
