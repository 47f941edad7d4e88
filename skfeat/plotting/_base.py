"""Helpers shared by the Displays: axes creation, labels, records."""

import numbers

import numpy as np

# One description of every record column, shared with the report.
from skfeat.metrics._records import INDEX_KEYS, column_label
from skfeat.metrics._targets import n_targets  # noqa: F401  (re-exported)
from skfeat.utils._optional import import_optional

# Keys of a record that index or size it rather than measure something; a
# history may also carry "step", "name" or "run".
INDEX_KEYS = (*INDEX_KEYS, "step", "name", "run", "n_samples", "p", "n_classes")

# Measures that decay geometrically with depth or training: a log axis shows
# that decay as a straight line.
LOG_SCALE_METRICS = ("compression", "nc1", "cdnv")

# Marks drawn once per axes (C level, k = C) carry this gid so that a second
# run plotted on the same axes does not draw (and label) them again.
_REFERENCE_GID = "skfeat-reference"


def metric_label(metric):
    """Axis label of a metric name (the name itself when unknown)."""
    return column_label(metric)


def get_axes(ax, caller):
    """Return ``(figure, ax)``: ``ax``'s figure, or a new figure and axes."""
    plt = import_optional("matplotlib.pyplot", caller)
    if ax is None:
        figure, ax = plt.subplots()
        return figure, ax
    return ax.figure, ax


def get_axes_grid(axes, n_panels, caller, *, panel_size=(3.6, 3.0)):
    """Return ``(figure, axes)`` with one axes per panel (a flat object array)."""
    plt = import_optional("matplotlib.pyplot", caller)
    if axes is None:
        # 4 panels as 2 x 2, otherwise rows of 3: no near-empty last row.
        n_cols = 2 if n_panels == 4 else min(n_panels, 3)
        n_rows = -(-n_panels // n_cols)
        figure, grid = plt.subplots(
            n_rows,
            n_cols,
            figsize=(panel_size[0] * n_cols, panel_size[1] * n_rows),
            squeeze=False,
            layout="constrained",
        )
        grid = grid.ravel()
        for extra in grid[n_panels:]:
            extra.set_visible(False)
        return figure, np.asarray(grid[:n_panels], dtype=object)
    flat = np.ravel(np.asarray(axes, dtype=object))
    if flat.size != n_panels:
        raise ValueError(
            f"{caller} draws {n_panels} panel(s) but got {flat.size} axes; pass "
            "one axes per metric or axes=None."
        )
    return flat[0].figure, flat


def has_reference(ax, key):
    """Whether the reference mark ``key`` is already drawn on ``ax``."""
    gid = f"{_REFERENCE_GID}-{key}"
    return any(line.get_gid() == gid for line in ax.get_lines())


def reference_gid(key):
    """Return the gid that marks the reference line ``key``."""
    return f"{_REFERENCE_GID}-{key}"


def legend(ax, **kwargs):
    """Draw the legend of ``ax`` with the runs first and reference marks last."""
    handles, labels = ax.get_legend_handles_labels()
    is_reference = [
        str(handle.get_gid()).startswith(_REFERENCE_GID) for handle in handles
    ]
    order = sorted(range(len(handles)), key=lambda i: is_reference[i])
    return ax.legend([handles[i] for i in order], [labels[i] for i in order], **kwargs)


def set_value_scale(ax, metric, values):
    """Log axis for geometric measures; otherwise keep 0 in a nonnegative range."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if metric in LOG_SCALE_METRICS and finite.size and finite.min() > 0:
        ax.set_yscale("log")
        return
    if finite.size and finite.min() >= 0 and ax.get_yscale() == "linear":
        ax.update_datalim([(0.0, 0.0)], updatex=False)
        ax.autoscale_view()


def set_index_scale(ax, xscale):
    """Set the scale of an index axis ``k``; plain numbers (1, 10, 100) on log."""
    ax.set_xscale(xscale)
    if xscale == "log":
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def check_n_classes(n_classes):
    """Validate ``n_classes`` (None or a positive int)."""
    if n_classes is None:
        return None
    if not isinstance(n_classes, numbers.Integral) or isinstance(n_classes, bool):
        raise TypeError(f"n_classes must be a positive int or None; got {n_classes!r}.")
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1; got {n_classes}.")
    return int(n_classes)


def check_records(history, caller):
    """Return a measures history as a list of dicts (from a list or a DataFrame)."""
    if hasattr(history, "to_dict") and hasattr(history, "columns"):
        history = history.to_dict(orient="records")
    try:
        records = [dict(record) for record in history]
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{caller} expects a list of dict records (or a pandas DataFrame); "
            f"got {type(history).__name__}."
        ) from exc
    if not records:
        raise ValueError(f"{caller}: the history is empty; there is nothing to plot.")
    return records


def numeric_metrics(records, exclude=INDEX_KEYS):
    """Names of the keys whose values are real numbers in some record, in order."""
    names = []
    for record in records:
        for key, value in record.items():
            if key in exclude or key in names:
                continue
            if _is_number(value):
                names.append(key)
    return names


def check_metrics(metrics, available, caller):
    """Validate a requested list of metric names against those available."""
    if metrics is None:
        if not available:
            raise ValueError(f"{caller}: the records hold no numeric metric to plot.")
        return list(available)
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    missing = [m for m in metrics if m not in available]
    if missing:
        raise ValueError(
            f"{caller}: unknown metric(s) {missing}; available: {list(available)}."
        )
    if not metrics:
        raise ValueError(f"{caller}: metrics is empty; there is nothing to plot.")
    return metrics


def value_or_nan(record, key):
    """``record[key]`` as a float, NaN when absent or not a number."""
    value = record.get(key)
    return float(value) if _is_number(value) else float("nan")


def _is_number(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    # 0-d arrays and tensors (e.g. a torch scalar in a tracker record).
    shape = getattr(value, "shape", None)
    if shape is not None and tuple(shape) == ():
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        return True
    return False
