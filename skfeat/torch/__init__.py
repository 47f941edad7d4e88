"""PyTorch tools: layer features, their measures over training, NFA and dynamics.

Needs the ``torch`` extra (``pip install skfeat[torch]``).
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "skfeat.torch needs PyTorch, which is not installed; install it with "
        "`pip install skfeat[torch]` (or see https://pytorch.org)."
    ) from exc

from ._alignment import (
    agop,
    alignment_per_layer,
    neural_feature_matrix,
    nfa_correlation,
    tangent_kernel,
)
from ._analyze import analyze
from ._dynamics import VirtualCovariance, feature_learning_equation, weight_gram
from ._extractor import FeatureExtractor
from ._tracker import FeatureTracker

__all__ = [
    "FeatureExtractor",
    "FeatureTracker",
    "VirtualCovariance",
    "agop",
    "alignment_per_layer",
    "analyze",
    "feature_learning_equation",
    "nfa_correlation",
    "neural_feature_matrix",
    "tangent_kernel",
    "weight_gram",
]
