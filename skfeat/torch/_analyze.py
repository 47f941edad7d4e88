"""analyze: the measures of every layer of a network from one pass over its data.

weightwatcher's ``analyze(model)`` gives a per-layer table of a network from
its weights; this gives one from its *features*, with the record of every
other skfeat table (:func:`skfeat.inspection.feature_record`), without ever
storing a feature matrix:

1. one forward pass over the training data; forward hooks hand each selected
   layer's rows, batch by batch, to its accumulators: the second moment
   ``Phi^T Phi`` (:class:`skfeat._moments.Moments`) for the spectrum and the
   class moments (:class:`skfeat.metrics.ClassMoments`) for the geometry;
2. the spectrum of every layer is solved from its moments;
3. one forward pass over the test data accumulates, per layer, the moments of
   ``[Phi_test | Y | F]`` (features, one-hot labels, the network's outputs),
   from which the held-out quality, utility and CKA-MF follow
   (:class:`~skfeat.metrics._gram.GramBlocks`,
   :func:`~skfeat.metrics._projection.projections_from_grams`).

Peak memory is that of the accumulators, ``O(sum_l p_l^2)``, plus one batch
of activations.  A layer wider than ``max_features`` takes another route,
named in the table's ``route`` column: ``"pooled"`` (its channel or token
means, ``C`` features instead of ``C * H * W``) or ``"randomized"`` (the
leading eigenpairs of its flattened features from a one-pass Nystrom sketch,
``O(p k)`` memory).
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from threadpoolctl import threadpool_limits

from skfeat._moments import Moments
from skfeat._randomized import orthonormal_basis
from skfeat._spectrum import FeatureSpectrum
from skfeat.inspection._record import geometry_record, record_from_measures
from skfeat.inspection._tables import as_table
from skfeat.metrics._geometry import ClassMoments
from skfeat.metrics._gram import GramBlocks
from skfeat.metrics._projection import projections_from_grams
from skfeat.utils._validation import check_labels

from ._activations import SEQUENCE_REDUCTIONS, SPATIAL_REDUCTIONS, Reducer, layout_of
from ._extractor import placed_module
from ._inputs import Batch, Batches, integer_cast, labels_beside
from ._layers import INPUT_SUFFIX, LayerTap, probe_layers, resolve_layers

__all__ = ["analyze"]

# Eigenpairs sketched for a layer on the randomized route (when the spectrum
# template does not fix n_components), and the oversampling of the sketch.
_SKETCH_RANK = 64
_OVERSAMPLES = 10


@validate_params(
    {
        "model": [torch.nn.Module],
        "X_train": "no_validation",
        "X_test": "no_validation",
        "y_train": ["array-like", None],
        "y_test": ["array-like", None],
        "layers": [str, list, tuple, None],
        "spectrum": [HasMethods(["fit", "projection_measures"]), None],
        "geometry": ["boolean"],
        "max_features": [Interval(Integral, 1, None, closed="left")],
        "wide": [StrOptions({"pooled", "randomized"})],
        "sequence_reduction": [StrOptions(set(SEQUENCE_REDUCTIONS))],
        "spatial_reduction": [StrOptions(set(SPATIAL_REDUCTIONS))],
        "output_selector": [str, callable, None],
        "forward_kwargs": [dict, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device, None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "rank_share": [Interval(Real, 0, 1, closed="right")],
        "random_state": ["random_state"],
        "curves": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def analyze(
    model,
    X_train,
    X_test,
    *,
    y_train=None,
    y_test=None,
    layers="all",
    spectrum=None,
    geometry=True,
    max_features=1024,
    wide="pooled",
    sequence_reduction="token_mean",
    spatial_reduction="channel_mean",
    output_selector=None,
    forward_kwargs=None,
    batch_size=256,
    device=None,
    threshold=0.1,
    rank_share=0.95,
    random_state=0,
    curves=False,
    as_frame=True,
):
    """Measure every layer of a network in one pass over train and one over test.

    Runs ``model`` once over the training inputs and once over the test
    inputs, accumulating each selected layer's moments on the fly (no feature
    matrix is stored), and returns one record per layer with the columns of
    every skfeat table (:func:`skfeat.inspection.feature_record`): the
    spectrum fitted on the training features (``rank``, ``D_lambda``), the
    held-out quality ``Q(C)``, utility ``U(C)``, ``D_q``, ``D_u``, CKA-MF and
    the regime, the geometry of the training features (compression,
    discrimination, numerical rank, NC1, target linearity) and the
    accuracies, plus how the layer was read (``reduction``, ``route``).

    Parameters
    ----------
    model : torch.nn.Module
        The network, left as found (hooks, modes, device, dtype).
    X_train : array-like, torch.Tensor, dict, Dataset or DataLoader
        Training inputs, read as :class:`FeatureExtractor` reads them; a
        loader yielding ``(input, target)`` pairs or dicts with ``"labels"``
        gives the labels too.
    X_test : array-like, torch.Tensor, dict, Dataset or DataLoader
        Held-out inputs, likewise.
    y_train : array-like of shape (n_train,), default=None
        Training class labels, when ``X_train`` does not carry them; needs
        ``X_train`` in order (a shuffled loader would misalign them).
    y_test : array-like of shape (n_test,), default=None
        Held-out class labels, when ``X_test`` does not carry them.
    layers : str, list of str or None, default="all"
        As for :class:`FeatureExtractor`: ``"all"`` (every leaf module that
        runs once per forward pass, except Dropout and Identity, in call
        order), ``"blocks"`` (every element of an ``nn.Sequential`` /
        ``nn.ModuleList`` that has submodules), a list of names, or None (the
        input of the last linear layer).
    spectrum : FeatureSpectrum, default=None
        Template of each layer's spectrum (cloned; its ``n_components``,
        ``rtol``, ... are used); ``FeatureSpectrum()`` when None.
    geometry : bool, default=True
        Also measure the geometry of the training features (needs training
        labels).
    max_features : int, default=1024
        Widest layer measured through its ``p x p`` second moment; a wider
        one goes the ``wide`` route.
    wide : {"pooled", "randomized"}, default="pooled"
        Route of a layer wider than ``max_features``: ``"pooled"`` reads its
        channel means (``spatial_reduction="channel_mean"``) or token means
        (``sequence_reduction="token_mean"``) instead, when that makes it
        narrow enough, else falls back to ``"randomized"``; ``"randomized"``
        keeps its features and sketches the leading eigenpairs (the
        spectrum's int ``n_components``, else 64) in one pass (Nystrom,
        Tropp et al. 2017), without geometry; the held-out measures are then
        over the sketched eigenfunctions, and CKA-MF is that of the features
        restricted to them.
    sequence_reduction : str, default="token_mean"
        How a ``(seq, hidden)`` activation becomes features (see
        :class:`FeatureExtractor`); also applied to sequence outputs.
    spatial_reduction : str, default="channel_mean"
        How a ``(C, H, W)`` activation becomes features.  A whole-network
        table reads every convolutional layer by its channel means by
        default -- the global-average-pooled features that a ResNet's own
        head reads -- so that layers of different resolutions are compared
        on the same footing and the pass stays within a small multiple of a
        forward pass; ``"flatten"`` reads all ``C * H * W`` values (the
        extractor's default), with the ``wide`` route for layers wider than
        ``max_features``.
    output_selector : str, callable or None, default=None
        Which tensor of the model's return value is its output.
    forward_kwargs : dict or None, default=None
        Extra keyword arguments of every forward call.
    batch_size : int, default=256
        Samples per forward pass (a DataLoader keeps its own batches).
    device : str, torch.device or None, default=None
        Where the passes run; None: where the model's parameters are (a model
        elsewhere is copied there, never moved).
    threshold : float in [0, 1], default=0.1
        CKA-MF threshold of the regime label.
    rank_share : float in (0, 1], default=0.95
        Singular-value share of the numerical rank (geometry).
    random_state : int, RandomState instance or None, default=0
        Seed of the randomized route's sketch.
    curves : bool, default=False
        Keep the per-eigenfunction curves (eigenvalues, quality, ...).
    as_frame : bool, default=True
        Return a :class:`pandas.DataFrame` (else a list of dicts).

    Returns
    -------
    table : pandas.DataFrame or list of dict
        One record per layer, in call order: ``layer``, ``depth`` (1 first),
        ``reduction``, ``route`` and the columns of
        :func:`skfeat.inspection.feature_record`; draw it with
        :meth:`skfeat.plotting.LayerDisplay.from_history`.

    See Also
    --------
    FeatureExtractor : The features of chosen layers, as arrays.
    FeatureTracker : The same record over training epochs.
    skfeat.inspection.layerwise_report : The table from features in memory.

    Notes
    -----
    Peak memory: each layer's accumulators (``p^2`` float64 for the
    spectrum, as much again for the geometry, ``(p + C + d)^2`` for the
    held-out pass), one batch of activations, and the model.  Test labels
    must be classes seen in training.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.
    .. [2] Tropp, Yurtsever, Udell, Cevher. "Fixed-rank approximation of a
       positive-semidefinite matrix from streaming data", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skfeat.torch import analyze
    >>> _ = torch.manual_seed(0)
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 5)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> net = torch.nn.Sequential(
    ...     torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
    ... )
    >>> table = analyze(net, X[:80], X[80:], y_train=y[:80], y_test=y[80:])
    >>> table[["layer", "n_features", "route"]].values.tolist()
    [['0', 16, 'gram'], ['1', 16, 'gram'], ['2', 2, 'gram']]
    """
    template = FeatureSpectrum() if spectrum is None else spectrum
    module, device, dtype = placed_module(model, device, None)
    reducer = Reducer(sequence_reduction, spatial_reduction)
    train = Batches(X_train, batch_size, name="X_train")
    test = Batches(X_test, batch_size, name="X_test")
    train_labels = _LabelSource(train, y_train, "y_train")
    test_labels = _LabelSource(test, y_test, "y_test")
    if geometry and train.in_memory and y_train is None:
        raise ValueError(
            "geometry=True needs the training labels: pass y_train, a loader of "
            "(input, target) pairs, or geometry=False."
        )

    def tap(names, on_rows, reducers=None):
        return LayerTap(
            module,
            names,
            reducer,
            on_rows,
            output_selector=output_selector,
            forward_kwargs=forward_kwargs,
            reducers=reducers,
        )

    # The probe: integer inputs, the layers, their widths and routes.
    head = train.head(2)

    def forward(inputs):
        with tap([], None) as plain:
            plain.run(Batch(inputs))

    placed, cast, _ = integer_cast(forward, head.inputs, device, dtype)
    names = resolve_layers(module, layers)
    if isinstance(names, str):
        names = probe_layers(
            module, names, Batch(placed), forward_kwargs=forward_kwargs
        )
    widths = {}
    with tap(
        names + [""], lambda n, rows, c: widths.__setitem__(n, rows.shape[1])
    ) as t:
        t.run(Batch(placed))
        shapes = dict(t.shapes)
    plans = {
        name: _plan(
            name, module, shapes[name], widths[name], reducer, max_features, wide
        )
        for name in names
    }
    reducers = {name: plan.reducer for name, plan in plans.items()}
    rng = np.random.default_rng(
        random_state if isinstance(random_state, Integral) else None
    )

    # 1. The training pass: every layer's moments, at hook time.
    classes = train_labels.classes()
    accumulators = {
        name: _TrainAccumulator(plan, template, geometry, classes, rng, device)
        for name, plan in plans.items()
    }
    train_hits = _Hits()
    state = {}

    def on_train(name, rows, counts):
        if name == "":
            train_hits.add(rows, counts, state["labels"], classes)
        else:
            accumulators[name].add(rows, _repeat(state["labels"], counts))

    # The hooks' small products run between torch's kernels: one BLAS thread
    # for them, so that numpy's and torch's thread pools do not contend.
    with tap(names + [""], on_train, reducers) as t, _one_blas_thread():
        for batch in train.placed(device, dtype, cast_integers=cast):
            state["labels"] = train_labels.next(batch)
            t.run(batch)
    classes = train_labels.classes(seen=True)
    if geometry and classes is None:
        raise ValueError(
            "geometry=True needs the training labels: pass y_train, a loader of "
            "(input, target) pairs, or geometry=False."
        )

    # 2. The spectra.
    for accumulator in accumulators.values():
        accumulator.solve()

    # 3. The held-out pass: [Phi | Y | F] per layer, once the outputs are known.
    if classes is None:
        classes = test_labels.classes()
    if classes is None:
        raise ValueError(
            "analyze needs class labels for the held-out quality: pass y_train / "
            "y_test, or loaders that yield (input, target) pairs."
        )
    held_out = {name: Moments(name=f"layer {name!r}") for name in names}
    keeper = _RowKeeper(accumulators)
    test_hits = _Hits()

    with tap(names + [""], keeper.on_rows, reducers) as t, _one_blas_thread():
        for batch in test.placed(device, dtype, cast_integers=cast):
            labels = test_labels.next(batch)
            if labels is None:
                raise ValueError(
                    "The test batches carry no labels: pass y_test or a loader of "
                    "(input, target) pairs."
                )
            _check_known(labels, classes)
            keeper.start()
            t.run(batch)
            outputs, out_counts = keeper.output()
            test_hits.add(outputs, out_counts, labels, classes)
            for name in names:
                rows, counts = keeper.rows(name)
                Y = _one_hot(_repeat(labels, counts), classes)
                F = _repeat_rows(outputs, out_counts, counts, name)
                held_out[name].update(rows, Y.astype(rows.dtype), F)
    records = []
    for depth, name in enumerate(names, start=1):
        accumulator = accumulators[name]
        record = {
            "layer": name,
            "depth": depth,
            "reduction": plans[name].reduction,
            "route": plans[name].route,
        }
        record.update(
            accumulator.record(held_out[name], classes.size, threshold, rank_share)
        )
        if train_hits.total:
            record["train_accuracy"] = train_hits.accuracy()
        if test_hits.total:
            record["test_accuracy"] = test_hits.accuracy()
        records.append(record)
    return as_table(records, as_frame=as_frame, curves=curves, purpose="analyze")


def _one_blas_thread():
    return threadpool_limits(1, user_api="blas")


class _Plan:
    """How one layer is read: its reducer, reduction name and route."""

    def __init__(self, reducer, reduction, route, width):
        self.reducer = reducer
        self.reduction = reduction
        self.route = route
        self.width = width


def _plan(name, module, shape, width, reducer, max_features, wide):
    base = name.removesuffix(INPUT_SUFFIX)
    layout = layout_of(module.get_submodule(base))
    ndim = len(shape) + 1
    reduction = reducer.kind(ndim, layout)
    if width <= max_features:
        return _Plan(reducer, reduction, "gram", width)
    if wide == "pooled":
        pooled = Reducer("token_mean", "channel_mean")
        kind = pooled.kind(ndim, layout)
        narrow = shape[0] if kind == "channel_mean" else shape[-1]
        if kind != reduction and kind != "none" and narrow <= max_features:
            return _Plan(pooled, kind, "pooled", narrow)
    return _Plan(reducer, reduction, "randomized", width)


class _LabelSource:
    """The labels of each batch: from ``y`` (in order) or from the batches."""

    def __init__(self, batches, y, name):
        self.name = name
        self.x_name = batches.name
        self.y = None
        self.position = 0
        self.seen = []
        if y is not None:
            self.y = _class_labels(labels_beside(y, batches, name, batches.name), name)

    def classes(self, seen=False):
        if self.y is not None:
            return np.unique(self.y)
        if seen and self.seen:
            return np.unique(np.concatenate(self.seen))
        return None

    def next(self, batch):
        size = batch.size
        if self.y is not None:
            labels = self.y[self.position : self.position + size]
            self.position += size
            if labels.shape[0] != size:
                raise ValueError(
                    f"{self.name} has fewer labels than the inputs have samples."
                )
            return labels
        if batch.targets is None:
            return None
        labels = check_labels(np.asarray(torch.as_tensor(batch.targets).cpu()))
        labels = _class_labels(labels, f"The labels that {self.x_name} yields")
        self.seen.append(labels)
        return labels


def _class_labels(y, name):
    """Refuse real-valued targets: the analysis measures class labels."""
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(
            f"{name} holds real values: analyze measures class labels (one-hot "
            "targets, accuracies, class geometry); for regression targets use "
            "FeatureTracker(..., target_type='values') or layerwise_report(..., "
            "target_type='values'), which read them as real values (R^2, target "
            "linearity, Q at t + 1)."
        )
    return y


def _check_known(labels, classes):
    unseen = np.setdiff1d(np.unique(labels), classes)
    if unseen.size:
        raise ValueError(
            f"The test labels hold classes {unseen[:5].tolist()} that the training "
            f"labels do not have ({classes.size} classes): the network's outputs "
            "and the measures are defined for the training classes only."
        )


def _repeat(labels, counts):
    if labels is None or counts is None:
        return labels
    return np.repeat(labels, counts.cpu().numpy())


def _repeat_rows(outputs, out_counts, counts, name):
    """Repeat the outputs of each sample over the rows the layer gave it."""
    if out_counts is not None:
        if counts is None or not torch.equal(out_counts, counts):
            raise ValueError(
                f"The model's outputs give one row per token but layer {name!r} "
                "does not: their rows cannot be paired. Read the layers and the "
                "outputs with one row per sample (a sequence_reduction other "
                "than 'tokens_as_samples'), or only layers of sequences."
            )
        return outputs
    if counts is None:
        return outputs
    return np.repeat(outputs, counts.cpu().numpy(), axis=0)


def _one_hot(labels, classes):
    codes = np.searchsorted(classes, labels)
    return np.eye(classes.size, dtype=np.float64)[codes]


def _host(rows):
    return rows.detach().cpu().numpy()


class _Hits:
    """Running accuracy of ``argmax`` over outputs with one column per class."""

    def __init__(self):
        self.correct = 0
        self.total = 0

    def add(self, outputs, counts, labels, classes):
        if labels is None or classes is None or counts is not None:
            return
        outputs = np.asarray(
            outputs if isinstance(outputs, np.ndarray) else _host(outputs)
        )
        if outputs.ndim != 2 or outputs.shape[1] != classes.size:
            return
        predicted = classes[np.argmax(outputs, axis=1)]
        self.correct += int(np.sum(predicted == labels))
        self.total += labels.shape[0]

    def accuracy(self):
        return self.correct / self.total


class _TrainAccumulator:
    """A layer's training moments (spectrum, geometry) and its fitted spectrum."""

    def __init__(self, plan, template, geometry, classes, rng, device):
        self.plan = plan
        self.spectrum = clone(template)
        self.moments = None
        self.sketch = None
        self.geometry = None
        self.last = None
        if plan.route == "randomized":
            n_components = template.n_components
            rank = n_components if isinstance(n_components, Integral) else _SKETCH_RANK
            self.sketch = _NystromSketch(plan.width, rank, rng, device)
        elif geometry:
            # The class moments hold Phi^T Phi too (their scatter moved back
            # to the origin, an exact rank-K correction): one accumulator.
            self.geometry = ClassMoments(classes=classes)
        else:
            self.moments = Moments(with_sums=False, name="the layer's features")
        self.coef = None
        self.test_dtype = np.dtype(np.float32)

    def add(self, rows, labels):
        if self.sketch is not None:
            self.sketch.update(rows)
            self.last = _host(rows[:2])
            return
        host = _host(rows)
        self.last = host[:2]
        if self.geometry is None:
            self.moments.update(host)
        elif labels is None:
            raise ValueError(
                "geometry=True needs the training labels, and a training batch "
                "carries none: pass y_train, or geometry=False."
            )
        else:
            self.geometry.update(host, labels)

    def solve(self):
        spectrum = self.spectrum
        if self.sketch is None:
            spectrum._validate(self.last, reset=True, min_samples=1)
            if self.geometry is not None:
                self._fit_from_class_moments()
            else:
                spectrum._fit_from_moments(self.moments, self.last)
            self.coef = np.asarray(spectrum.components_, dtype=np.float64).T / np.sqrt(
                np.asarray(spectrum.eigenvalues_, dtype=np.float64)
            )
            return
        lam, V, n = self.sketch.eigenpairs()
        spectrum._validate(self.last, reset=True, min_samples=1)
        spectrum._set_spectrum(lam, V, 1.0, n, self.last)
        spectrum.n_samples_seen_ = n
        spectrum.solver_ = "randomized"
        k = spectrum.n_components_
        self.basis = torch.as_tensor(
            np.ascontiguousarray(spectrum.components_.T), device=self.sketch.device
        )
        self.coef = np.diag(1.0 / np.sqrt(np.asarray(spectrum.eigenvalues_[:k], float)))

    def _fit_from_class_moments(self):
        """Fit the spectrum from the eigendecomposition the geometry keeps.

        With geometry on, the spectrum's second moment is the class moments'
        uncentred Gram ``H^T H``, whose eigendecomposition the geometry needs
        too (numerical rank, target linearity): one ``p x p`` ``eigh`` per
        layer serves both.
        """
        geometry, spectrum = self.geometry, self.spectrum
        mu, U = geometry._gram_eigh()
        n = geometry.n_samples_
        spectrum._set_spectrum(mu[::-1] / n, U[:, ::-1], geometry._scale, n, self.last)
        spectrum.n_samples_seen_ = n
        spectrum.solver_ = "gram"

    def test_rows(self, rows):
        """The block of the held-out pass: the features, or their projections."""
        self.test_dtype = np.dtype(str(rows.dtype).removeprefix("torch."))
        if self.sketch is None:
            return rows
        return rows @ self.basis.to(rows.dtype)

    def record(self, held_out, n_classes, threshold, rank_share):
        dtypes = [self.test_dtype, np.float64, self.test_dtype]
        grams = GramBlocks.from_moments(held_out, dtypes)
        measures = projections_from_grams(grams, self.coef, {"y": 1, "outputs": 2})
        record = record_from_measures(
            self.spectrum, measures, n_classes, threshold=threshold, with_outputs=True
        )
        if self.plan.route == "randomized":
            record["n_features"] = self.plan.width
        if self.geometry is not None and self.geometry.n_samples_:
            record.update(
                geometry_record(
                    None, None, rank_share=rank_share, moments=self.geometry
                )
            )
        return record


class _RowKeeper:
    """Each layer's rows of the current held-out batch, copied only when needed.

    A layer's rows are read after the forward pass (they meet the outputs),
    so an in-place operation later in the pass (``ReLU(inplace=True)`` after
    a convolution) would overwrite them.  The first batch copies every layer
    and checks the version counter of the original: layers whose activation
    was modified in place are copied from then on, the others only kept.
    """

    def __init__(self, accumulators):
        self.accumulators = accumulators
        self.needs_copy = {}
        self.kept = {}

    def start(self):
        self.kept = {}

    def on_rows(self, name, rows, counts):
        if name != "":
            rows = self.accumulators[name].test_rows(rows)
        copy_now = self.needs_copy.get(name, True)
        kept = rows.clone() if copy_now else rows
        self.kept[name] = (kept, counts, rows, rows._version)

    def _take(self, name):
        kept, counts, original, version = self.kept[name]
        if name not in self.needs_copy:
            # The first batch: did anything write into the activation after?
            self.needs_copy[name] = original._version != version
        return kept, counts

    def rows(self, name):
        rows, counts = self._take(name)
        return _host(rows), counts

    def output(self):
        outputs, counts = self._take("")
        return _host(outputs), counts


class _NystromSketch:
    """One-pass Nystrom sketch of ``Phi^T Phi`` (Tropp et al. 2017, alg. 3).

    Accumulates ``S = Phi^T Phi Omega`` for a fixed orthonormal test matrix
    ``Omega`` (``p x (k + oversamples)``), ``O(p k)`` memory; the eigenpairs of
    the Nystrom approximation ``S (Omega^T S)^+ S^T`` follow, with the
    stabilising shift of the reference.
    """

    def __init__(self, p, rank, rng, device):
        self.rank = min(rank, p)
        width = min(p, self.rank + _OVERSAMPLES)
        omega = orthonormal_basis(rng.standard_normal((p, width)))
        self.device = device
        self.omega = torch.as_tensor(omega, device=device)
        self.sketch = torch.zeros((p, width), dtype=torch.float64, device=device)
        self.n = 0
        self.dtype = None

    def update(self, rows):
        omega = self.omega.to(rows.dtype)
        self.sketch += (rows.T @ (rows @ omega)).to(torch.float64)
        self.n += rows.shape[0]
        self.dtype = rows.dtype

    def eigenpairs(self):
        if self.n < 2:
            raise ValueError("The randomized route needs at least 2 samples.")
        S = self.sketch.cpu().numpy()
        omega = self.omega.cpu().numpy()
        eps = torch.finfo(self.dtype).eps
        shift = math.sqrt(S.shape[0]) * eps * np.linalg.norm(S, 2)
        shifted = S + shift * omega
        core = omega.T @ shifted
        core = (core + core.T) / 2
        lower = np.linalg.cholesky(core)
        B = np.linalg.solve(lower, shifted.T).T
        U, sigma, _ = np.linalg.svd(B, full_matrices=False)
        lam = np.clip(sigma**2 - shift, 0.0, None)[: self.rank] / self.n
        return lam, U[:, : self.rank], self.n
