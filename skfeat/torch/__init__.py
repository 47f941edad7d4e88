"""PyTorch tools: features of a network's layers, and their measures over training.

Needs the ``torch`` extra (``pip install skfeat[torch]``).
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "skfeat.torch needs PyTorch, which is not installed; install it with "
        "`pip install skfeat[torch]` (or see https://pytorch.org)."
    ) from exc

from ._extractor import FeatureExtractor
from ._tracker import FeatureTracker

__all__ = [
    "FeatureExtractor",
    "FeatureTracker",
]
