"""skfeat: the features a neural network has learned, measured.

The spectrum of a feature map (:class:`FeatureSpectrum`), feature-learning
measures and scikit-learn scorers (:mod:`skfeat.metrics`), and a torch
feature extractor (:mod:`skfeat.torch`, needs the ``torch`` extra).
"""

from ._report import load_run, save_run, write_report
from ._spectrum import FeatureSpectrum
from ._streaming import fit_from_batches
from .metrics import (
    cka_mf,
    cumulative_quality,
    cumulative_utility,
    effective_dimension,
    eigenvalue_dimension,
    feature_quality,
    feature_regime,
    feature_utility,
    linear_cka,
)

__version__ = "0.1.0"

__all__ = [
    "FeatureSpectrum",
    "__version__",
    "effective_dimension",
    "eigenvalue_dimension",
    "cka_mf",
    "cumulative_quality",
    "cumulative_utility",
    "feature_quality",
    "feature_regime",
    "feature_utility",
    "linear_cka",
    "fit_from_batches",
    "load_run",
    "save_run",
    "write_report",
]
