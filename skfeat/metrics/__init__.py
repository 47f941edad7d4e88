"""Feature-learning measures and scikit-learn scorers.

Pure functions on arrays (numpy, array-API, scipy sparse, dask) and scorers
for model selection; nothing here imports an estimator, torch or matplotlib.
"""

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

__all__ = [
    "ClassMoments",
    "NeuralCollapse",
    "between_class_discrimination",
    "cka_mf",
    "cumulative_quality",
    "cumulative_utility",
    "effective_dimension",
    "eigenvalue_dimension",
    "feature_quality",
    "feature_regime",
    "feature_utility",
    "get_scorer",
    "get_scorer_names",
    "linear_cka",
    "make_cka_mf_scorer",
    "make_quality_scorer",
    "make_utility_scorer",
    "neural_collapse",
    "numerical_rank",
    "projection_measures",
    "target_linearity",
    "within_class_compression",
]
