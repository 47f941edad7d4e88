"""Feature-learning measures and scikit-learn scorers."""

from ._dimension import effective_dimension, eigenvalue_dimension
from ._geometry import (
    ClassMoments,
    NeuralCollapse,
    between_class_discrimination,
    neural_collapse,
    numerical_rank,
    within_class_compression,
)
from ._layerwise import layerwise_report, plot_layerwise
from ._linearity import target_linearity

__all__ = [
    "effective_dimension",
    "eigenvalue_dimension",
    "ClassMoments",
    "NeuralCollapse",
    "between_class_discrimination",
    "neural_collapse",
    "numerical_rank",
    "target_linearity",
    "within_class_compression",
    "layerwise_report",
    "plot_layerwise",
]
