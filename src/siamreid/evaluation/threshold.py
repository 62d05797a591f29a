"""Distance thresholds for open-set matching: "is this a known person, or a new one?"

Calibrate on validation identities the model did not train on: collect distances between
images of the same person and of different people (or, closer to deployment, each query's
nearest-match distances with :func:`nearest_match_distances`), then pick the threshold with
:func:`calibrate_threshold`. A distance at or below the threshold means "same person".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from siamreid.errors import InputError

__all__ = ["DistanceThreshold", "calibrate_threshold", "nearest_match_distances", "pair_distances"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DistanceThreshold:
    """A calibrated decision threshold and how it did on the calibration distances.

    Attributes:
        threshold: Distances ``<= threshold`` are accepted as the same person.
        true_accept_rate: Fraction of same-person distances accepted.
        false_accept_rate: Fraction of different-person distances accepted.
        num_same: Same-person distances calibrated on.
        num_diff: Different-person distances calibrated on.
    """

    threshold: float
    true_accept_rate: float
    false_accept_rate: float
    num_same: int
    num_diff: int

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold):
            raise InputError(f"DistanceThreshold.threshold must be finite, got {self.threshold}.")
        for name in ("true_accept_rate", "false_accept_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"DistanceThreshold.{name} must be within [0, 1].")
        if self.num_same < 1 or self.num_diff < 1:
            raise InputError("DistanceThreshold.num_same and num_diff must be >= 1.")

    @property
    def balanced_accuracy(self) -> float:
        """Mean of the true accept rate and the true reject rate."""
        return (self.true_accept_rate + 1.0 - self.false_accept_rate) / 2.0

    def accepts(self, distances: Any) -> npt.NDArray[np.bool_]:
        """Whether each distance is accepted as the same person."""
        return np.asarray(_as_vector(distances, "distances") <= self.threshold)


def calibrate_threshold(
    distances_same: Any,
    distances_diff: Any,
    *,
    max_false_accept_rate: float | None = None,
) -> DistanceThreshold:
    """The distance threshold that best separates same-person from different-person distances.

    By default it maximises the balanced accuracy (the true accept rate minus the false accept
    rate, Youden's J). With ``max_false_accept_rate`` it is the largest threshold whose false
    accept rate stays within it (the most matches at a bounded rate of wrong ones). The
    threshold sits halfway between the last accepted distance and the next one.

    Args:
        distances_same: Distances between images of the same person (1-D, any array-like).
        distances_diff: Distances between images of different people.
        max_false_accept_rate: Bound on the fraction of ``distances_diff`` accepted, in [0, 1].

    Returns:
        The threshold with its rates on the given distances.

    Raises:
        ValueError: An empty or non-finite input, or a bound outside [0, 1].

    Example:
        >>> t = calibrate_threshold([0.2, 0.3, 0.5], [0.6, 0.9, 1.1])
        >>> t.threshold, t.true_accept_rate, t.false_accept_rate
        (0.55, 1.0, 0.0)
    """
    same, diff = _checked_distances(distances_same, distances_diff, max_false_accept_rate)
    values = np.unique(np.concatenate([same, diff]))
    best = _best_candidate(same, diff, values, max_false_accept_rate)
    threshold = _between(values, best - 1)
    return DistanceThreshold(
        threshold=threshold,
        true_accept_rate=float(np.mean(same <= threshold)),
        false_accept_rate=float(np.mean(diff <= threshold)),
        num_same=int(same.size),
        num_diff=int(diff.size),
    )


def _checked_distances(
    distances_same: Any, distances_diff: Any, max_false_accept_rate: float | None
) -> tuple[FloatArray, FloatArray]:
    same = _as_vector(distances_same, "distances_same")
    diff = _as_vector(distances_diff, "distances_diff")
    if same.size == 0:
        raise InputError(
            "distances_same is empty: calibrating needs distances between images of the same "
            "person, so at least one identity with two or more images (or, with "
            "nearest_match_distances, a query whose identity is in the gallery)."
        )
    if diff.size == 0:
        raise InputError(
            "distances_diff is empty: calibrating needs distances between different people, "
            "so images of at least two identities (a single identity gives none); add images "
            "of other people."
        )
    for name, values in (("distances_same", same), ("distances_diff", diff)):
        if not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise InputError(f"{name} must hold finite distances; entry {bad} is {values[bad]}.")
    if max_false_accept_rate is not None and not 0.0 <= max_false_accept_rate <= 1.0:
        raise InputError(
            f"max_false_accept_rate must be within [0, 1], got {max_false_accept_rate}."
        )
    return same, diff


def _best_candidate(
    same: FloatArray, diff: FloatArray, values: FloatArray, max_false_accept_rate: float | None
) -> int:
    """Index into ``[-inf, *values]`` of the distance the threshold sits just above."""
    # accepted counts when the threshold sits just above values[i]
    tar = np.searchsorted(np.sort(same), values, side="right") / same.size
    far = np.searchsorted(np.sort(diff), values, side="right") / diff.size
    # candidate -1: a threshold below every distance (accept nothing)
    tar, far = np.concatenate([[0.0], tar]), np.concatenate([[0.0], far])
    if max_false_accept_rate is None:
        return int(np.argmax(tar - far))
    return int(np.flatnonzero(far <= max_false_accept_rate + 1e-12).max())


def pair_distances(embeddings: Any, ids: Any) -> tuple[FloatArray, FloatArray]:
    """Euclidean distances of every pair of distinct items, split by identity.

    Args:
        embeddings: ``[N, D]`` embeddings.
        ids: ``N`` identities.

    Returns:
        ``(same, diff)``: the distances of same-identity pairs and of different-identity pairs,
        each pair once.

    Example:
        >>> same, diff = pair_distances(model.embed(paths), ids)  # doctest: +SKIP
        >>> calibrate_threshold(same, diff)  # doctest: +SKIP
    """
    emb = _as_matrix(embeddings, "embeddings")
    labels = _as_labels(ids, "ids")
    if labels.size != emb.shape[0]:
        raise InputError(f"ids has {labels.size} entries for {emb.shape[0]} embeddings.")
    dist = torch.cdist(torch.from_numpy(emb), torch.from_numpy(emb)).numpy()
    upper = np.triu_indices(emb.shape[0], k=1)
    same_pair = labels[upper[0]] == labels[upper[1]]
    pairs = dist[upper]
    return pairs[same_pair], pairs[~same_pair]


def nearest_match_distances(
    query: Any, query_ids: Any, gallery: Any, gallery_ids: Any
) -> tuple[FloatArray, FloatArray]:
    """For each query, its distance to the nearest gallery item of its own and of another id.

    This is the decision a tracker makes: a known person's nearest same-identity entry should
    fall under the threshold, and the nearest entry of anybody else should not (which is all a
    new person would find in the gallery).

    Args:
        query: ``[Q, D]`` query embeddings.
        query_ids: ``Q`` identities.
        gallery: ``[G, D]`` gallery embeddings.
        gallery_ids: ``G`` identities.

    Returns:
        ``(same, diff)``: nearest same-identity distances (queries whose identity is in the
        gallery) and nearest other-identity distances (queries with another identity in it).

    Example:
        >>> same, diff = nearest_match_distances(qf, q_ids, gf, g_ids)  # doctest: +SKIP
        >>> threshold = calibrate_threshold(same, diff).threshold  # doctest: +SKIP
    """
    q, g = _as_matrix(query, "query"), _as_matrix(gallery, "gallery")
    q_ids, g_ids = _as_labels(query_ids, "query_ids"), _as_labels(gallery_ids, "gallery_ids")
    if q_ids.size != q.shape[0] or g_ids.size != g.shape[0] or q.shape[1] != g.shape[1]:
        raise InputError(
            f"query {q.shape} with {q_ids.size} ids and gallery {g.shape} with {g_ids.size} ids "
            "must have one id per row and the same width."
        )
    dist = torch.cdist(torch.from_numpy(q), torch.from_numpy(g)).numpy()
    match = q_ids[:, None] == g_ids[None, :]
    nearest_same = np.where(match, dist, np.inf).min(axis=1, initial=np.inf)
    nearest_diff = np.where(match, np.inf, dist).min(axis=1, initial=np.inf)
    return nearest_same[np.isfinite(nearest_same)], nearest_diff[np.isfinite(nearest_diff)]


def _between(values: FloatArray, index: int) -> float:
    """A threshold accepting ``values[: index + 1]`` and rejecting the rest."""
    if index < 0:
        low = values[0]
        return float(low - max(abs(low), 1.0) * 1e-6)
    if index == values.size - 1:
        return float(values[-1])
    return float((values[index] + values[index + 1]) / 2.0)


def _as_vector(values: Any, name: str) -> FloatArray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {arr.shape}.")
    return arr


def _as_labels(values: Any, name: str) -> npt.NDArray[Any]:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {arr.shape}.")
    return arr


def _as_matrix(values: Any, name: str) -> FloatArray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise InputError(f"{name} must be a finite [N, D] array, got shape {arr.shape}.")
    return arr
