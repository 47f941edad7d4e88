"""Feature-learning measures and scikit-learn scorers."""

from ._dimension import effective_dimension, eigenvalue_dimension

__all__ = [
    "effective_dimension",
    "eigenvalue_dimension",
]
