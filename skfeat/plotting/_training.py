"""TrainingDisplay: feature-learning measures over training epochs."""

import numbers

import numpy as np

from ._base import (
    check_metrics,
    check_records,
    get_axes_grid,
    metric_label,
    numeric_metrics,
    set_value_scale,
    value_or_nan,
)

__all__ = ["TrainingDisplay"]


class TrainingDisplay:
    """Measures over training epochs, one panel per measure, one line per layer.

    Draws the history recorded by :class:`skfeat.torch.FeatureTracker` (or any
    list of records with an ``"epoch"`` key, an optional ``"layer"`` key and
    numeric measures): how ``D_lambda``, ``Q(C)``, CKA-MF, accuracy ... of each
    layer evolve while the network trains.

    Parameters
    ----------
    history : list of dict or pandas DataFrame
        One record per (epoch, layer).
    name : str, default=None
        Name of the run; prefixes the legend entries.

    Attributes
    ----------
    lines_ : dict of (str, str) to matplotlib Line2D
        The curve of each ``(metric, layer)``; ``layer`` is ``"all layers"``
        for a measure recorded identically for every layer (e.g. accuracy).
    axes_ : ndarray of matplotlib Axes
        One axes per measure.
    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    LayerDisplay : Measures against depth at one epoch.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfeat.plotting import TrainingDisplay
    >>> history = [
    ...     {"epoch": 0, "layer": "fc1", "D_lambda": 20.0, "accuracy": 0.1},
    ...     {"epoch": 5, "layer": "fc1", "D_lambda": 9.0, "accuracy": 0.8},
    ...     {"epoch": 10, "layer": "fc1", "D_lambda": 4.0, "accuracy": 0.9},
    ... ]
    >>> display = TrainingDisplay.from_history(history)
    >>> display.lines_["D_lambda", "fc1"].get_xdata()
    array([ 0.,  5., 10.])
    """

    def __init__(self, history, *, name=None):
        self.history = history
        self.name = name

    def plot(self, axes=None, *, metrics=None, layers=None, name=None, **kwargs):
        """Draw one panel per measure.

        Parameters
        ----------
        axes : array-like of matplotlib Axes or Axes, default=None
            One axes per measure; or a single Axes to draw every measure on it
            (the legend then names the measure); a new figure when None.
        metrics : list of str, default=None
            Which measures to draw; every numeric key when None.
        layers : list of str, default=None
            Which layers to draw; all when None.
        name : str, default=None
            Legend prefix; overrides the ``name`` given at construction.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : TrainingDisplay
            This object, with the matplotlib artists stored.
        """
        records = check_records(self.history, "TrainingDisplay")
        for i, record in enumerate(records):
            epoch = record.get("epoch")
            if not isinstance(epoch, numbers.Real) or isinstance(epoch, bool):
                raise ValueError(
                    "TrainingDisplay needs a numeric 'epoch' in each record; "
                    f"record {i} has epoch={epoch!r}."
                )
        all_layers = list(dict.fromkeys(r.get("layer") for r in records))
        if layers is None:
            layers = all_layers
        else:
            unknown = [layer for layer in layers if layer not in all_layers]
            if unknown:
                raise ValueError(f"unknown layer(s) {unknown}; layers: {all_layers}.")
        metrics = check_metrics(metrics, numeric_metrics(records), "TrainingDisplay")
        # One Axes for several measures: overlay them (as FeatureTracker.plot
        # does), each line labelled by its measure.
        overlay = axes is not None and hasattr(axes, "plot") and len(metrics) > 1
        if overlay:
            axes = [axes] * len(metrics)
        figure, axes = get_axes_grid(axes, len(metrics), "TrainingDisplay.plot")
        name = self.name if name is None else name
        self.lines_ = {}
        for ax, metric in zip(axes, metrics):
            series = {layer: _series(records, layer, metric) for layer in layers}
            series = {layer: xy for layer, xy in series.items() if xy[0].size}
            shared = _shared_series(series)
            if shared is not None:
                # A model-level value (accuracy, loss) repeated in every layer's
                # record: one line, not one per layer on top of each other.
                series = {"all layers": shared}
            for layer, (epochs, values) in series.items():
                parts = (name, layer)
                if overlay:
                    # The layer is only worth naming when there are several.
                    shown = layer if len(series) > 1 else None
                    parts = (name, metric_label(metric), shown)
                label = " ".join(str(s) for s in parts if s is not None)
                style = {"marker": "o", "markersize": 3}
                style.update(kwargs)
                if label:
                    style["label"] = label
                (self.lines_[metric, layer],) = ax.plot(epochs, values, **style)
                set_value_scale(ax, metric, values)
            ax.set_xlabel("epoch")
            if not overlay:
                ax.set_ylabel(metric_label(metric))
        # One legend, on the first panel that shows every layer.
        for ax in axes:
            if len(ax.get_legend_handles_labels()[1]) > 1 or (
                len(layers) == 1 and ax.get_legend_handles_labels()[1]
            ):
                ax.legend(fontsize="small")
                break
        self.axes_ = axes
        self.figure_ = figure
        return self

    @classmethod
    def from_history(
        cls, history, *, metrics=None, layers=None, name=None, axes=None, **kwargs
    ):
        """Plot a list of measures records over epochs.

        Parameters
        ----------
        history : list of dict or pandas DataFrame
            One record per (epoch, layer), with an ``"epoch"`` key.
        metrics : list of str, default=None
            Which measures to draw; every numeric key when None.
        layers : list of str, default=None
            Which layers to draw; all when None.
        name : str, default=None
            Legend prefix.
        axes : array-like of matplotlib Axes or Axes, default=None
            One axes per measure, or one Axes for all of them; a new figure
            when None.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : TrainingDisplay
            The display, drawn.
        """
        display = cls(history, name=name)
        return display.plot(axes=axes, metrics=metrics, layers=layers, **kwargs)

    @classmethod
    def from_tracker(
        cls, tracker, *, metrics=None, layers=None, name=None, axes=None, **kwargs
    ):
        """Plot the history of a :class:`skfeat.torch.FeatureTracker`.

        Parameters
        ----------
        tracker : FeatureTracker
            A tracker (anything with a ``history`` list of records).
        metrics : list of str, default=None
            Which measures to draw; every numeric key when None.
        layers : list of str, default=None
            Which layers to draw; all when None.
        name : str, default=None
            Legend prefix.
        axes : array-like of matplotlib Axes or Axes, default=None
            One axes per measure, or one Axes for all of them; a new figure
            when None.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : TrainingDisplay
            The display, drawn.
        """
        if not hasattr(tracker, "history"):
            raise TypeError(
                "expected a FeatureTracker with a history; got "
                f"{type(tracker).__name__}."
            )
        return cls.from_history(
            tracker.history,
            metrics=metrics,
            layers=layers,
            name=name,
            axes=axes,
            **kwargs,
        )


def _series(records, layer, metric):
    """Epochs and values of ``metric`` for ``layer``, sorted by epoch."""
    rows = [r for r in records if r.get("layer") == layer]
    rows = [r for r in rows if not np.isnan(value_or_nan(r, metric))]
    rows.sort(key=lambda r: r["epoch"])
    epochs = np.asarray([float(r["epoch"]) for r in rows])
    return epochs, np.asarray([value_or_nan(r, metric) for r in rows])


def _shared_series(series):
    """Return the common series when all layers have exactly the same one."""
    if len(series) < 2:
        return None
    (epochs, values), *rest = series.values()
    for other_epochs, other_values in rest:
        if not (
            np.array_equal(epochs, other_epochs)
            and np.array_equal(values, other_values)
        ):
            return None
    return epochs, values
