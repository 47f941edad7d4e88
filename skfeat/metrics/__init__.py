"""Feature-learning measures and scikit-learn scorers."""

from ._cka import cka_mf, feature_regime, linear_cka
from ._dimension import effective_dimension, eigenvalue_dimension
from ._projection import (
    cumulative_quality,
    cumulative_utility,
    feature_quality,
    feature_utility,
    projection_measures,
)

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
]
