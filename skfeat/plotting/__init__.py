"""Plots of the spectrum and feature-learning measures (scikit-learn Displays).

Each Display follows scikit-learn's pattern (e.g.
:class:`sklearn.metrics.RocCurveDisplay`): a ``from_*`` class method computes
what to draw and plots it; the constructor takes precomputed values;
:meth:`plot` draws on a given matplotlib ``ax`` (or a new figure) and keeps
the figure, axes and lines as attributes ending in ``_``.  matplotlib (the
``plot`` extra) is imported only when something is drawn.
"""

from ._layers import LayerDisplay
from ._projection import ProjectionDisplay
from ._spectrum import SpectrumDisplay
from ._training import TrainingDisplay

__all__ = [
    "LayerDisplay",
    "ProjectionDisplay",
    "SpectrumDisplay",
    "TrainingDisplay",
]
