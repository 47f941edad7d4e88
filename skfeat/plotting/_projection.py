"""ProjectionDisplay: cumulative quality Q(k) and utility U(k) curves."""

import numpy as np

from skfeat.utils._validation import check_vector

from ._base import (
    check_n_classes,
    get_axes,
    has_reference,
    legend,
    n_targets,
    reference_gid,
    set_index_scale,
)

__all__ = ["ProjectionDisplay"]


class ProjectionDisplay:
    """Cumulative quality ``Q(k)`` and utility ``U(k)`` of the eigenfunctions.

    ``Q(k)`` is how much of the target space the first ``k`` eigenfunctions
    span (it reaches ``C`` for one-hot targets of ``C`` classes when the target
    lies in the span of the features); ``U(k)`` is the same for the span of the
    network's outputs.  The curves are drawn against ``k`` with the level ``C``
    (horizontal line) and ``k = C`` (vertical line) marked: in the
    minimal-feature regime both curves reach ``C`` at ``k`` close to ``C``.
    Quality is solid, utility dashed in the same colour.  Call :meth:`plot`
    again with ``ax=display.ax_`` to compare several runs on one axes.

    Use :meth:`from_estimator` or :meth:`from_eigenfunctions` to create one.

    Parameters
    ----------
    quality : array-like of shape (k,), default=None
        Cumulative quality ``Q(1), ..., Q(k)``.
    utility : array-like of shape (k,), default=None
        Cumulative utility ``U(1), ..., U(k)``.
    n_classes : int, default=None
        Number of classes ``C``; marks the level ``C`` and ``k = C``.
    name : str, default=None
        Name of the run, shown in the legend.

    Attributes
    ----------
    quality_line_ : matplotlib Line2D or None
        The ``Q(k)`` curve.
    utility_line_ : matplotlib Line2D or None
        The ``U(k)`` curve.
    level_line_ : matplotlib Line2D or None
        The horizontal line at ``C`` (None when not drawn on this call).
    class_line_ : matplotlib Line2D or None
        The vertical line at ``k = C`` (None when not drawn on this call).
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    skfeat.metrics.cumulative_quality : Computes ``Q(k)``.
    skfeat.metrics.cumulative_utility : Computes ``U(k)``.
    SpectrumDisplay : The eigenvalues themselves.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skfeat.plotting import ProjectionDisplay
    >>> display = ProjectionDisplay(
    ...     quality=[1.0, 1.8, 2.9, 3.0, 3.0], utility=[1.0, 2.0, 3.0, 3.0, 3.0],
    ...     n_classes=3, name="trained",
    ... ).plot()
    >>> display.quality_line_.get_ydata()
    array([1. , 1.8, 2.9, 3. , 3. ])
    >>> display.level_line_.get_ydata()
    [3, 3]
    """

    def __init__(self, quality=None, utility=None, *, n_classes=None, name=None):
        self.quality = quality
        self.utility = utility
        self.n_classes = n_classes
        self.name = name

    def plot(self, ax=None, *, name=None, xscale="linear", **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes when None.
        name : str, default=None
            Name in the legend; overrides the ``name`` given at construction.
        xscale : {"linear", "log"}, default="linear"
            Scale of the ``k`` axis; ``"log"`` helps when there are hundreds of
            eigenfunctions but the interesting part is ``k <= C``.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` for both curves (a
            ``color`` keeps the two curves of a run in one colour).

        Returns
        -------
        display : ProjectionDisplay
            This object, with the matplotlib artists stored.
        """
        if self.quality is None and self.utility is None:
            raise ValueError(
                "ProjectionDisplay needs quality, utility or both; got neither."
            )
        # Everything is checked before a figure exists: a failed call leaves
        # no figure open.
        n_classes = check_n_classes(self.n_classes)
        quality = (
            None if self.quality is None else _check_curve(self.quality, "quality")
        )
        utility = (
            None if self.utility is None else _check_curve(self.utility, "utility")
        )
        figure, ax = get_axes(ax, "ProjectionDisplay.plot")
        name = self.name if name is None else name
        prefix = f"{name}: " if name else ""
        self.quality_line_ = self.utility_line_ = None
        color = kwargs.pop("color", None)
        if quality is not None:
            style = {"marker": "o", "markersize": _marker_size(quality), "color": color}
            style.update(kwargs, label=f"{prefix}quality $Q(k)$")
            (self.quality_line_,) = ax.plot(
                np.arange(1, quality.size + 1), quality, **style
            )
            color = self.quality_line_.get_color()
        if utility is not None:
            style = {
                "marker": "s",
                "markersize": _marker_size(utility),
                "linestyle": "--",
                "color": color,
            }
            style.update(kwargs, label=f"{prefix}utility $U(k)$")
            (self.utility_line_,) = ax.plot(
                np.arange(1, utility.size + 1), utility, **style
            )
        self.level_line_ = self.class_line_ = None
        if n_classes is not None and not has_reference(ax, "level=C"):
            self.level_line_ = ax.axhline(
                n_classes,
                color="0.4",
                linestyle="-.",
                linewidth=1,
                label=f"level $C = {n_classes}$",
                gid=reference_gid("level=C"),
            )
        if n_classes is not None and not has_reference(ax, "k=C"):
            self.class_line_ = ax.axvline(
                n_classes,
                color="0.4",
                linestyle=":",
                linewidth=1,
                label=f"$k = C = {n_classes}$",
                gid=reference_gid("k=C"),
            )
        set_index_scale(ax, xscale)
        ax.set_xlabel("number of eigenfunctions $k$")
        ax.set_ylabel("cumulative projection")
        if not ax.get_title():
            ax.set_title("Quality and utility of the first $k$ eigenfunctions")
        legend(ax)
        self.ax_ = ax
        self.figure_ = figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        outputs=None,
        n_classes=None,
        name=None,
        ax=None,
        **plot_kwargs,
    ):
        """Plot ``Q(k)`` and ``U(k)`` of a fitted spectrum on a held-out sample.

        Parameters
        ----------
        estimator : FeatureSpectrum or Pipeline
            A fitted :class:`~skfeat.FeatureSpectrum` (or a pipeline ending in
            one); its ``transform`` gives the eigenfunctions on ``X``.
        X : array-like of shape (m, p)
            Features of the evaluation sample (the pipeline's input when
            ``estimator`` is a pipeline).
        y : array-like of shape (m,) or (m, t), default=None
            Class labels (one-hot encoded) or regression targets; gives ``Q(k)``.
        outputs : array-like of shape (m, C), default=None
            The network's outputs on the evaluation sample; gives ``U(k)``.
        n_classes : int, default=None
            ``C``; when None, the number of classes of ``y`` (or of its columns
            for real-valued targets).
        name : str, default=None
            Name of the run in the legend.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes when None.
        **plot_kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ProjectionDisplay
            The display, drawn.
        """
        E = estimator.transform(X)
        return cls.from_eigenfunctions(
            E, y, outputs=outputs, n_classes=n_classes, name=name, ax=ax, **plot_kwargs
        )

    @classmethod
    def from_eigenfunctions(
        cls,
        E,
        y=None,
        *,
        outputs=None,
        n_classes=None,
        name=None,
        ax=None,
        **plot_kwargs,
    ):
        """Plot ``Q(k)`` and ``U(k)`` from eigenfunction values on a sample.

        Parameters
        ----------
        E : array-like of shape (m, k)
            Eigenfunctions on the evaluation sample
            (:meth:`skfeat.FeatureSpectrum.transform`).
        y : array-like of shape (m,) or (m, t), default=None
            Class labels or regression targets; gives ``Q(k)``.
        outputs : array-like of shape (m, C), default=None
            The network's outputs on the sample; gives ``U(k)``.
        n_classes : int, default=None
            ``C``; when None, the number of classes of ``y`` (or of its columns
            for real-valued targets).
        name : str, default=None
            Name of the run in the legend.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes when None.
        **plot_kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ProjectionDisplay
            The display, drawn.
        """
        from skfeat.metrics import projection_measures

        if y is None and outputs is None:
            raise ValueError("give y (for Q(k)), outputs (for U(k)) or both.")
        # Q(k) and U(k) from one pass over [E | Y | F].
        measures = projection_measures(E, y, outputs=outputs)
        quality = measures.get("cumulative_quality")
        utility = measures.get("cumulative_utility")
        if n_classes is None and y is not None:
            n_classes = n_targets(y)
        display = cls(quality, utility, n_classes=n_classes, name=name)
        return display.plot(ax=ax, **plot_kwargs)


def _check_curve(values, name):
    curve = check_vector(values, name)
    if np.any(curve < 0):
        raise ValueError(f"{name} must be nonnegative; got min = {curve.min():g}.")
    return curve


def _marker_size(curve):
    # Markers help to count the first few k; on hundreds of points they blur.
    return 3 if curve.size <= 50 else 0
