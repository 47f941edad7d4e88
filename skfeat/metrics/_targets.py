"""What a target is: class labels or real values, and its matrix.

One rule, shared by every function, estimator method, scorer, the tracker and
the report (``target_type``):

* ``"classes"``: ``y`` holds class labels (1-D, or one column); the target
  matrix is the one-hot indicator matrix of the ``C`` classes.
* ``"values"``: ``y`` holds real targets (a vector is one column); the
  target matrix is ``y`` itself, column by column.
* ``"auto"``: labels when ``y`` is 1-D (or one column) of strings, booleans or
  integers, or 1-D floats that are all whole numbers (then with a warning, as
  that is a guess: pass ``target_type`` to say which); real values otherwise
  (fractional floats, a column of floats, or several columns).

How many eigenfunctions a target needs (:func:`read_at`): the one-hot span of
``C`` classes contains the constant function, so ``C`` eigenfunctions can
span it (``Q(C) = C``).  The span of ``t`` real targets does not contain the
constant, while the first eigenfunction of an uncentred second moment is
near-constant (it carries the features' mean and none of a centred target):
``t`` real targets are read at ``t + 1`` eigenfunctions (``Q(t + 1) <= t``).
This is where ``quality_at_C`` / ``utility_at_C`` of a record, the
``"quality"`` scorer and :meth:`skfeat.FeatureSpectrum.score` read the
cumulative measures.  The class-only measures (neural collapse, compression,
discrimination, :class:`~skfeat.metrics.ClassMoments`) refuse targets read as
``"values"`` (:func:`class_labels`).
"""

import warnings

import numpy as np
from sklearn.utils._param_validation import StrOptions

from skfeat.utils._validation import check_targets

__all__ = [
    "TARGET_TYPE_CONSTRAINT",
    "class_labels",
    "n_targets",
    "read_at",
    "resolve_target_type",
    "target_matrix",
]

TARGET_TYPE_CONSTRAINT = [StrOptions({"auto", "classes", "values"})]


def resolve_target_type(y, target_type="auto", name="y"):
    """Return ``(y, "classes" | "values")`` for checked host ``y`` (see module).

    Parameters
    ----------
    y : array-like of shape (m,) or (m, t)
        Labels or targets.
    target_type : {"auto", "classes", "values"}, default="auto"
        See the module docstring.
    name : str, default="y"
        Name in messages.

    Returns
    -------
    y : ndarray
        Host labels (1-D) or targets (2-D float64 for values).
    kind : {"classes", "values"}
        What ``y`` was read as.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._targets import resolve_target_type
    >>> resolve_target_type(np.array(["a", "b"]))[1]
    'classes'
    >>> resolve_target_type(np.array([0.5, 1.5]))[1]
    'values'
    """
    y = check_targets(y, name)
    column = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if target_type == "auto":
        if (
            column.ndim == 2
            or (y.ndim == 2 and y.dtype.kind == "f")
            or (column.dtype.kind == "f" and not np.all(column == np.round(column)))
        ):
            target_type = "values"
        else:
            target_type = "classes"
            if column.dtype.kind == "f":
                warnings.warn(
                    f"{name} holds floats that are all whole numbers; they are "
                    f"read as {np.unique(column).size} class labels. Pass "
                    "target_type='values' for regression targets, or "
                    "target_type='classes' to say they are labels.",
                    UserWarning,
                    stacklevel=3,
                )
    if target_type == "classes":
        if column.ndim != 1:
            raise ValueError(
                f"{name} with target_type='classes' must be 1-D class labels; got "
                f"shape {y.shape}."
            )
        return column, "classes"
    if y.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} with target_type='values' must hold real numbers; got dtype "
            f"{y.dtype}."
        )
    return np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1), "values"


def target_matrix(y, target_type="auto", *, center_target=False, name="y"):
    """Target matrix of ``y`` on the host, in float64.

    Class labels become the one-hot indicator matrix (``C`` columns, whose span
    contains the constant function) or, with ``center_target``, one-hot minus
    ``1/C`` (span of dimension ``C - 1``, constant excluded).  Real values are
    taken column by column; ``center_target`` subtracts each column's mean.

    Returns
    -------
    Y : ndarray of shape (m, C) or (m, t)
        The target matrix.
    kind : {"classes", "values"}
        What ``y`` was read as.
    """
    y, kind = resolve_target_type(y, target_type, name)
    if kind == "values":
        return (y - y.mean(axis=0) if center_target else y), kind
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(
            f"{name} has a single class ({classes[0]!r}); these measures need at "
            "least two classes (or pass real-valued targets with "
            "target_type='values')."
        )
    Y = np.zeros((y.shape[0], classes.size))
    Y[np.arange(y.shape[0]), codes] = 1.0
    return (Y - 1.0 / classes.size if center_target else Y), kind


def n_targets(y, target_type="auto"):
    """``C`` (distinct labels) or ``t`` (target columns): the target dimension.

    Nothing of size ``m x C`` is built.
    """
    y, kind = resolve_target_type(y, target_type)
    return int(np.unique(y).size) if kind == "classes" else int(y.shape[1])


def read_at(n_targets, target_type):
    """Eigenfunctions at which a target of dimension ``n_targets`` is read.

    ``C`` for ``"classes"`` (the one-hot span contains the constant), ``t + 1``
    for ``"values"`` (the near-constant first eigenfunction carries none of
    a centred target); see the module docstring.

    Examples
    --------
    >>> from skfeat.metrics._targets import read_at
    >>> read_at(3, "classes"), read_at(1, "values")
    (3, 2)
    """
    if target_type not in ("classes", "values"):
        raise ValueError(
            f"target_type must be 'classes' or 'values' here; got {target_type!r}."
        )
    return int(n_targets) + (target_type == "values")


def class_labels(y, target_type="auto", *, what="This measure", name="y"):
    """Return 1-D class labels, or raise when ``y`` is read as real values.

    The check of every class-only measure (neural collapse, compression,
    discrimination, :class:`~skfeat.metrics.ClassMoments`): ``y`` is read by
    :func:`resolve_target_type`, and real-valued targets are refused with a
    ValueError naming ``target_type``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.metrics._targets import class_labels
    >>> class_labels(np.array([0, 1, 1])).tolist()
    [0, 1, 1]
    """
    try:
        labels, kind = resolve_target_type(y, target_type, name)
    except ValueError as exc:
        if target_type != "classes":
            raise
        raise ValueError(f"{what} (class geometry): {exc}") from None
    if kind == "values":
        how = (
            "target_type='values'"
            if target_type == "values"
            else "real-valued targets (target_type='auto' read them as 'values': "
            "fractional floats or several columns)"
        )
        raise ValueError(
            f"{what}: a measure of class geometry, defined for class labels "
            f"only; {name} was given as {how}. Pass class labels with "
            "target_type='classes', or use a measure defined for regression "
            "targets (target_linearity, quality, utility, CKA-MF) with "
            "target_type='values'."
        )
    return labels
