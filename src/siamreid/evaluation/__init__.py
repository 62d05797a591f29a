"""Retrieval evaluation on arrays: Market-1501 metrics, k-reciprocal re-ranking, query expansion.

Nothing here knows about models or training: every function takes features or distances
(numpy arrays or torch tensors) and identity/camera labels.
"""

from siamreid.evaluation.query_expansion import query_expansion
from siamreid.evaluation.rank import RankMetrics, evaluate_features, evaluate_rank
from siamreid.evaluation.rerank import re_rank, re_rank_features

__all__ = [
    "RankMetrics",
    "evaluate_features",
    "evaluate_rank",
    "query_expansion",
    "re_rank",
    "re_rank_features",
]
