"""Feature-learning measures and scikit-learn scorers."""

from ._cka import cka_mf, feature_regime, linear_cka
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
from ._projection import (
    cumulative_quality,
    cumulative_utility,
    feature_quality,
    feature_utility,
    projection_measures,
)
from ._scorer import (
    get_scorer,
    get_scorer_names,
    make_cka_mf_scorer,
    make_quality_scorer,
    make_utility_scorer,
)
from ._summary import feature_measures

__all__ = [
    "effective_dimension",
    "eigenvalue_dimension",
    "cka_mf",
    "cumulative_quality",
    "cumulative_utility",
    "feature_quality",
    "feature_regime",
    "feature_utility",
    "linear_cka",
    "projection_measures",
    "get_scorer",
    "get_scorer_names",
    "make_cka_mf_scorer",
    "make_quality_scorer",
    "make_utility_scorer",
    "ClassMoments",
    "NeuralCollapse",
    "between_class_discrimination",
    "neural_collapse",
    "numerical_rank",
    "target_linearity",
    "within_class_compression",
    "layerwise_report",
    "plot_layerwise",
    "feature_measures",
]
