"""Retrieval evaluation on arrays: Market-1501 metrics, re-ranking, query expansion, thresholds.

Nothing here knows about models or training: every function takes features or distances
(numpy arrays or torch tensors) and identity/camera labels.
"""

from siamreid.evaluation.matches import TopMatches, top_matches
from siamreid.evaluation.query_expansion import query_expansion
from siamreid.evaluation.rank import RankMetrics, evaluate_features, evaluate_rank
from siamreid.evaluation.rerank import re_rank, re_rank_features
from siamreid.evaluation.threshold import (
    DistanceThreshold,
    calibrate_threshold,
    nearest_match_distances,
    pair_distances,
)

__all__ = [
    "DistanceThreshold",
    "RankMetrics",
    "TopMatches",
    "calibrate_threshold",
    "evaluate_features",
    "evaluate_rank",
    "nearest_match_distances",
    "pair_distances",
    "query_expansion",
    "re_rank",
    "re_rank_features",
    "top_matches",
]
