"""skfeat: the features a neural network has learned, measured.

The spectrum of a feature map (:class:`FeatureSpectrum`), feature-learning
measures and scikit-learn scorers (:mod:`skfeat.metrics`), the tables that
combine them (:mod:`skfeat.inspection`), plots (:mod:`skfeat.plotting`) and
torch tools (:mod:`skfeat.torch`, needs the ``torch`` extra).  Importing
skfeat loads neither torch, matplotlib nor pandas.
"""

from ._spectrum import FeatureSpectrum
from ._streaming import fit_from_batches
from .inspection import load_run, save_run, write_report
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

__version__ = "0.2.0.dev0"

__all__ = [
    "FeatureSpectrum",
    "__version__",
    "cka_mf",
    "cumulative_quality",
    "cumulative_utility",
    "effective_dimension",
    "eigenvalue_dimension",
    "feature_quality",
    "feature_regime",
    "feature_utility",
    "fit_from_batches",
    "linear_cka",
    "load_run",
    "save_run",
    "write_report",
]
