"""FeatureTracker: the feature-learning measures of a network during training."""

import time
from numbers import Integral

import numpy as np

from skfeat.inspection._record import feature_record
from skfeat.inspection._tables import as_table
from skfeat.metrics._targets import resolve_target_type

from ._activations import SEQUENCE_REDUCTIONS, SPATIAL_REDUCTIONS
from ._extractor import FeatureExtractor
from ._inputs import Batches, labels_beside
from ._tracked_alignment import tracked_alignment

__all__ = ["FeatureTracker"]


class FeatureTracker:
    """Record the feature-learning measures of a network during your training loop.

    Call :meth:`update` (or the tracker itself) with the model and the epoch
    inside your own loop; every ``every`` epochs it extracts the chosen layers
    on the training and test inputs (one forward pass each), fits
    :class:`~skfeat.FeatureSpectrum` on the training features, and records per
    layer the measures of the test features: quality ``Q(C)`` against the
    one-hot labels, utility ``U(C)`` against the network's test outputs,
    ``D_lambda``, ``D_q``, ``D_u``, CKA-MF, the regime and the accuracies
    (the record of :func:`skfeat.inspection.feature_record`).

    Regression networks (``target_type="values"``, or ``"auto"`` on
    fractional float targets or several columns): the targets ``Y`` (``t``
    columns) take the place of the one-hot labels, ``C`` is ``t`` and
    ``Q``, ``U`` are read at ``t + 1`` eigenfunctions (the near-constant
    first one carries none of a centred target), and the records hold
    ``train_r2`` / ``test_r2`` (:func:`sklearn.metrics.r2_score` of the
    network's outputs, several targets averaged uniformly) in place of the
    accuracies; with ``geometry=True`` only ``numerical_rank`` and
    ``target_linearity`` (the class-only columns are left out).

    The epoch convention, the same in the docs, the demo and the gallery:
    record the state before training as epoch 0, then call ``update`` after
    each epoch ``1, 2, ...``, with ``force=True`` after the last one so that
    the final state is recorded whatever ``every`` is::

        tracker.update(net, 0)
        for epoch in range(1, epochs + 1):
            train_one_epoch(net)
            tracker.update(net, epoch, force=epoch == epochs)

    An epoch already recorded is not recorded again.

    Parameters
    ----------
    X_train : array-like, torch.Tensor, dict, Dataset or DataLoader
        Training inputs (the sample the spectrum is fitted on), read as
        :class:`FeatureExtractor` reads them.
    y_train : array-like of shape (n_train,) or (n_train, t), or None
        Training class labels or regression targets (for the training
        accuracy or R², and the geometry).
        None: the labels that ``X_train``'s batches carry (``(input,
        target)`` pairs, or a dict's ``"labels"``), read in the same pass as
        the features, so that a shuffling loader stays aligned.  Labels
        given here need ``X_train`` in order: beside a shuffling loader they
        raise a ValueError.
    X_test : array-like, torch.Tensor, dict, Dataset or DataLoader
        Held-out inputs (the sample the measures are evaluated on).
    y_test : array-like of shape (n_test,) or (n_test, t), or None
        Held-out class labels or targets (None: from ``X_test``'s batches,
        as above); every class must occur in the training labels.
    layers : str, list of str or None, default=None
        Layers to track, named as in :class:`FeatureExtractor` (``None``: the
        input of the last linear layer, the paper's feature map).
    every : int, default=1
        Record only when ``epoch % every == 0``.
    spectrum : FeatureSpectrum, default=None
        Template of the spectrum fitted at each update (cloned; its
        ``n_components``, ``solver``, ``rtol``, ``random_state``, ... are
        used); ``FeatureSpectrum()`` when None.  The held-out measures are
        taken over the eigenfunctions it keeps: use the same
        ``n_components`` ``K`` much smaller than the test sample to compare
        networks (see :func:`skfeat.inspection.feature_record`).  For a
        wide layer, ``FeatureSpectrum(n_components=K, solver="randomized",
        random_state=0)`` (see Notes).
    threshold : float, default=0.1
        CKA-MF threshold of the regime label (see
        :func:`skfeat.metrics.feature_regime`).
    geometry : bool, default=False
        Also record the geometry of each layer's training features
        (compression, discrimination, numerical rank, NC1, target
        linearity): one more pass of class moments per layer.
    batch_size : int, default=256
        Batch size of the extraction passes.
    device : str, torch.device or None, default=None
        Where the extraction passes run; None: where the model's parameters
        are (a CUDA model is measured on its GPU).  The model itself is never
        moved: another device runs a copy.
    alignment : bool, default=False
        Also record the neural feature ansatz correlation ``nfa`` (see
        :func:`~skfeat.torch.alignment_per_layer`) of every tracked layer that
        is the input of a Linear / Conv layer (``"name:input"``, the weight
        being that of ``"name"``), on the training inputs, ``batch_size``
        samples at a time.  Other tracked layers get no ``nfa`` key.
    init_state : dict or None, default=None
        A ``model.state_dict()`` snapshot at initialisation (copy the
        tensors); with ``alignment=True`` the centred ``cnfa`` is recorded
        too.  At initialisation itself ``dW = 0`` and ``cnfa`` is 0 with a
        :class:`UserWarning`.
    sequence_reduction : str, default="token_mean"
        How a ``(seq, hidden)`` activation becomes features (see
        :class:`FeatureExtractor`); with ``"tokens_as_samples"`` each token
        carries its sample's label and outputs.
    spatial_reduction : str, default="flatten"
        How a ``(C, H, W)`` activation becomes features.
    output_selector : str, callable or None, default=None
        Which tensor of the model's return value is its output.
    forward_kwargs : dict or None, default=None
        Extra keyword arguments of every forward call.
    target_type : {"auto", "classes", "values"}, default="auto"
        How the labels are read (see :ref:`target_type <target_type>`):
        decided once, from the training labels, and kept for every update.

    Attributes
    ----------
    history : list of dict
        One record per ``(epoch, layer)``: ``epoch``, ``layer``, the
        accuracies ``train_accuracy, test_accuracy``, the record of
        :func:`skfeat.inspection.feature_record` (``n_features, n_targets``,
        the scalars ``rank, D_lambda, quality_at_C, D_q, utility_at_C, D_u,
        cka_mf, regime`` and the curves ``eigenvalues, quality,
        cumulative_quality, utility, cumulative_utility`` as numpy arrays) and
        ``seconds`` (the update's wall time); with ``geometry=True`` the
        geometry columns, with ``alignment=True`` also ``nfa`` (and ``cnfa``)
        for the layers that feed a Linear / Conv layer.  Regression records
        hold ``train_r2, test_r2`` in place of the accuracies.
    target_type_ : {"classes", "values"}
        How the labels were read (set by the first update when the labels
        come from the loaders).
    classes_ : ndarray
        Sorted class labels; output column ``j`` of the network is class
        ``classes_[j]`` (for the accuracies).  Set by the first update when
        the labels come from the loaders.  Class labels only.

    See Also
    --------
    FeatureExtractor : The extraction behind each update.
    skfeat.FeatureSpectrum : The spectrum fitted at each update.

    Notes
    -----
    The accuracies are those of ``argmax`` over the network's outputs; R²
    compares the outputs (``t`` columns) with the targets.  An
    update costs two forward passes without gradients plus, per layer, the
    spectrum's eigenproblem (``p x p`` with the default spectrum) and the
    held-out measures, wherever the model is (under a bfloat16
    ``torch.autocast`` the activations are measured in float32); see
    ``benchmarks/bench_extractor.py`` for its cost relative to a training
    epoch.  For wide layers (convolutional maps, ``p`` in the thousands)
    pass ``spectrum=FeatureSpectrum(n_components=K, solver="randomized")``:
    the top ``K`` eigenpairs from a sketch, never a ``p x p``
    eigenproblem; the geometry of a layer with more features than training
    samples is computed from the ``n x n`` side (same values), see
    ``benchmarks/bench_tracker_wide.py``.  The tracker is also a plain
    callable ``tracker(model, epoch)``; :mod:`skfeat.torch.callbacks` drives
    it from Lightning and skorch.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skfeat.torch import FeatureTracker
    >>> _ = torch.manual_seed(0)
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> net = torch.nn.Sequential(
    ...     torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
    ... )
    >>> tracker = FeatureTracker(X[:40], y[:40], X[40:], y[40:])
    >>> record = tracker.update(net, epoch=0)[0]
    >>> record["layer"], record["regime"] in {"MF", "EF"}
    ('2:input', True)
    >>> len(tracker.history)
    1
    """

    def __init__(
        self,
        X_train,
        y_train,
        X_test,
        y_test,
        *,
        layers=None,
        every=1,
        spectrum=None,
        threshold=0.1,
        geometry=False,
        batch_size=256,
        device=None,
        alignment=False,
        init_state=None,
        sequence_reduction="token_mean",
        spatial_reduction="flatten",
        output_selector=None,
        forward_kwargs=None,
        target_type="auto",
    ):
        self.X_train = X_train
        self.X_test = X_test
        if isinstance(every, bool) or not isinstance(every, Integral) or every < 1:
            raise ValueError(f"every must be a positive integer; got {every!r}.")
        if not isinstance(batch_size, Integral) or batch_size < 1:
            raise ValueError(
                f"batch_size must be a positive integer; got {batch_size!r}."
            )
        if target_type not in ("auto", "classes", "values"):
            raise ValueError(
                "target_type must be 'auto', 'classes' or 'values'; got "
                f"{target_type!r}."
            )
        self.target_type = target_type
        kind = None
        for y in (y_train, y_test):
            if y is not None and kind is None:
                # Decided once, from the first labels given (one warning).
                kind = resolve_target_type(y, target_type, "y_train")[1]
        self.y_train = _checked_labels(y_train, X_train, "y_train", "X_train", kind)
        self.y_test = _checked_labels(y_test, X_test, "y_test", "X_test", kind)
        for name, value, options in (
            ("sequence_reduction", sequence_reduction, SEQUENCE_REDUCTIONS),
            ("spatial_reduction", spatial_reduction, SPATIAL_REDUCTIONS),
        ):
            if value not in options:
                raise ValueError(f"{name} must be one of {options}; got {value!r}.")
        self.layers = layers
        self.every = int(every)
        self.threshold = threshold
        self.batch_size = batch_size
        self.device = device
        self.sequence_reduction = sequence_reduction
        self.spatial_reduction = spatial_reduction
        self.output_selector = output_selector
        self.forward_kwargs = forward_kwargs
        if spectrum is not None and not hasattr(spectrum, "projection_measures"):
            raise TypeError(
                f"spectrum must be a FeatureSpectrum (a template); got {spectrum!r}."
            )
        self.spectrum = spectrum
        self.geometry = bool(geometry)
        if init_state is not None and not isinstance(init_state, dict):
            raise TypeError(
                "init_state must be a state_dict (dict of tensors); got "
                f"{type(init_state).__name__}."
            )
        if init_state is not None and not alignment:
            raise ValueError("init_state is used only with alignment=True.")
        self.alignment = bool(alignment)
        self.init_state = init_state
        if kind is not None:
            self.target_type_ = kind
        if self.y_train is not None and self.y_test is not None:
            self._check_targets(self.y_train, self.y_test)
        self.history = []
        self._epochs = set()
        self._calls = 0

    def update(self, model, epoch=None, *, force=False):
        """Measure ``model``'s features now (if ``epoch`` is due).

        Parameters
        ----------
        model : torch.nn.Module
            The network being trained; its mode and hooks are left as found.
        epoch : int or None, default=None
            The epoch number; ``None`` counts the calls (0, 1, ...).
        force : bool, default=False
            Record even when ``epoch`` is not due (e.g. the final epoch).

        Returns
        -------
        records : list of dict or None
            The new records (one per layer), or None when the epoch is skipped.
        """
        epoch = self._calls if epoch is None else int(epoch)
        self._calls += 1
        if (epoch % self.every and not force) or epoch in self._epochs:
            return None
        start = time.perf_counter()
        extractor = FeatureExtractor(
            model,
            layers=self.layers,
            batch_size=self.batch_size,
            device=self.device,
            sequence_reduction=self.sequence_reduction,
            spatial_reduction=self.spatial_reduction,
            output_selector=self.output_selector,
            forward_kwargs=self.forward_kwargs,
        ).fit(self.X_test)
        names = extractor.layers_ + [""]
        train, train_counts, train_targets = extractor._run(self.X_train, names)
        test, test_counts, test_targets = extractor._run(self.X_test, names)
        y_train = _labels_of(self.y_train, train_targets, "y_train", "X_train")
        y_test = _labels_of(self.y_test, test_targets, "y_test", "X_test")
        if not hasattr(self, "target_type_"):
            self.target_type_ = resolve_target_type(
                y_train, self.target_type, "the labels of X_train"
            )[1]
        if self.target_type_ == "values":
            y_train, y_test = _values(y_train, "X_train"), _values(y_test, "X_test")
        else:
            y_train, y_test = _class(y_train, "X_train"), _class(y_test, "X_test")
        if self.y_train is None or self.y_test is None:
            self._check_targets(y_train, y_test)
        scores = self._scores(
            train[""],
            _per_row(y_train, train_counts[""]),
            test[""],
            _per_row(y_test, test_counts[""]),
        )
        n_targets = (
            self.classes_.size if self.target_type_ == "classes" else y_test.shape[1]
        )
        records = []
        for layer in extractor.layers_:
            record = {"epoch": epoch, "layer": layer}
            rows = test_counts[layer]
            record.update(
                feature_record(
                    train[layer],
                    test[layer],
                    _per_row(y_test, rows),
                    _outputs_per_row(test[""], test_counts[""], rows, layer),
                    y_train=(
                        _per_row(y_train, train_counts[layer])
                        if self.geometry
                        else None
                    ),
                    spectrum=self.spectrum,
                    n_targets=n_targets,
                    threshold=self.threshold,
                    target_type=self.target_type_,
                )
            )
            record.update(scores)
            records.append(record)
        if self.alignment:
            aligned = tracked_alignment(
                extractor.module_,
                self.X_train,
                extractor.layers_,
                init_state=self.init_state,
                batch_size=self.batch_size,
                output_selector=self.output_selector,
                forward_kwargs=self.forward_kwargs,
            )
            for record in records:
                record.update(aligned.get(record["layer"], {}))
        seconds = time.perf_counter() - start
        for record in records:
            record["seconds"] = seconds
        self.history.extend(records)
        self._epochs.add(epoch)
        return records

    __call__ = update

    def to_frame(self, curves=False):
        """Return the history as a tidy :class:`pandas.DataFrame`.

        Needs pandas, which the ``torch`` extra installs.

        Parameters
        ----------
        curves : bool, default=False
            Also keep the per-eigenfunction curves (array-valued columns).

        Returns
        -------
        frame : pandas.DataFrame
            One row per ``(epoch, layer)``, columns in the record schema's
            order; layers without an NFA get NaN there.
        """
        return as_table(
            self.history,
            as_frame=True,
            curves=curves,
            purpose="FeatureTracker.to_frame",
        )

    def plot(
        self, metrics=("quality_at_C", "utility_at_C", "cka_mf"), ax=None, **kwargs
    ):
        """Plot measures against the epoch on one axes, one line per (layer, measure).

        A shortcut for :meth:`skfeat.plotting.TrainingDisplay.from_tracker`
        with every measure on a single axes (that display draws one panel
        per measure when given no axes).

        Parameters
        ----------
        metrics : sequence of str, default=("quality_at_C", "utility_at_C", "cka_mf")
            Scalar measures of the history records.
        ax : matplotlib.axes.Axes or None, default=None
            Axes to draw on; a new figure when None.
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` (e.g. ``marker="o"``).

        Returns
        -------
        ax : matplotlib.axes.Axes
            The axes drawn on.
        """
        from skfeat.plotting import TrainingDisplay

        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6, 4))
        display = TrainingDisplay.from_tracker(
            self, metrics=list(metrics), axes=ax, **kwargs
        )
        return display.axes_[0]

    def _check_targets(self, y_train, y_test):
        """Class labels: the classes (of the outputs' columns); values: widths."""
        if self.target_type_ == "classes":
            if not hasattr(self, "classes_"):
                self.classes_ = _classes(y_train, y_test)
            return
        if y_train.shape[1] != y_test.shape[1]:
            raise ValueError(
                f"The training targets have {y_train.shape[1]} columns but the "
                f"test targets {y_test.shape[1]}."
            )

    def _scores(self, train_outputs, y_train, test_outputs, y_test):
        """Accuracies (classes) or R² (values) of the network's outputs."""
        if self.target_type_ == "values":
            return {
                "train_r2": _r2(train_outputs, y_train),
                "test_r2": _r2(test_outputs, y_test),
            }
        return {
            "train_accuracy": self._accuracy(train_outputs, y_train),
            "test_accuracy": self._accuracy(test_outputs, y_test),
        }

    def _accuracy(self, outputs, y):
        if outputs.ndim != 2 or outputs.shape[1] != self.classes_.size:
            return float("nan")
        predicted = self.classes_[np.argmax(outputs, axis=1)]
        return float(np.mean(predicted == y))


def _r2(outputs, Y):
    """``r2_score(Y, outputs)`` (uniform average); NaN when the widths differ."""
    from sklearn.metrics import r2_score

    outputs = np.asarray(outputs, dtype=np.float64)
    outputs = outputs.reshape(outputs.shape[0], -1)
    if outputs.shape != Y.shape or Y.shape[0] < 2:
        return float("nan")
    return float(r2_score(Y, outputs, multioutput="uniform_average"))


def _values(y, x_name):
    """Real targets as a 2-D float64 array (a vector is one column)."""
    return resolve_target_type(y, "values", f"the targets of {x_name}")[0]


def _class(y, x_name):
    """Class labels as a 1-D array (one column read as 1-D)."""
    return resolve_target_type(y, "classes", f"the labels of {x_name}")[0]


def _checked_labels(y, X, name, x_name, kind):
    """Labels given beside ``X`` (None: read from its batches at each update)."""
    if y is None:
        return None
    batches = Batches(X, 1, name=x_name)
    if kind == "values":
        return _values(labels_beside(y, batches, name, x_name, values=True), x_name)
    return labels_beside(y, batches, name, x_name)


def _labels_of(y, targets, name, x_name):
    """Return the labels of a pass: those given, else those the batches carried."""
    if y is not None:
        if targets is not None and targets.shape[0] != y.shape[0]:
            raise ValueError(
                f"{name} has {y.shape[0]} labels, but {x_name} yielded "
                f"{targets.shape[0]} samples."
            )
        return y
    if targets is None:
        raise ValueError(
            f"{name}=None needs {x_name} to carry its labels (a DataLoader or "
            "Dataset of (input, target) pairs, or dicts with 'labels')."
        )
    return targets


def _classes(y_train, y_test):
    unseen = np.setdiff1d(np.unique(y_test), np.unique(y_train))
    if unseen.size:
        raise ValueError(
            f"The test labels hold classes {unseen[:5].tolist()} that the training "
            "labels do not: the network's outputs, the accuracies and the measures "
            "are defined for the training classes only."
        )
    classes = np.unique(np.concatenate([y_train, y_test]))
    if classes.size < 2:
        raise ValueError("The labels have one class; the measures need two.")
    return classes


def _per_row(y, counts):
    """Labels of each row: a sample's label repeated over its rows."""
    return y if counts is None else np.repeat(y, counts, axis=0)


def _outputs_per_row(outputs, output_counts, counts, layer):
    if output_counts is not None:
        if counts is None or not np.array_equal(output_counts, counts):
            raise ValueError(
                f"The model's outputs give one row per token but layer {layer!r} "
                "does not: their rows cannot be paired."
            )
        return outputs
    return outputs if counts is None else np.repeat(outputs, counts, axis=0)
