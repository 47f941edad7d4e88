"""FeatureExtractor: the features of a torch module's layers as arrays."""

import copy
from collections.abc import Mapping
from itertools import chain
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skfeat.utils._optional import import_optional

from ._activations import SEQUENCE_REDUCTIONS, SPATIAL_REDUCTIONS, Reducer
from ._inputs import Batch, Batches, integer_cast
from ._layers import LayerTap, probe_layers, resolve_layers, unwrap_compiled

__all__ = ["FeatureExtractor"]


class FeatureExtractor(TransformerMixin, BaseEstimator):
    r"""Features of the layers of any :class:`torch.nn.Module`, as a transformer.

    The paper's forward feature map is the input of a network's last linear
    layer (the penultimate post-activations); this transformer evaluates it, or
    any other layer, on a sample: the model runs in eval mode under
    :func:`torch.no_grad` in batches, forward hooks read the chosen layers'
    activations and reduce each sample's activation to a row of features
    (``sequence_reduction``, ``spatial_reduction``), and everything the
    extractor changed on the model (hooks, train/eval mode) is restored when a
    call returns or raises.  Pipelines such as
    ``make_pipeline(FeatureExtractor(net), FeatureSpectrum())`` thus give the
    spectrum of ``net``'s features, and :meth:`outputs` gives the learned
    function that the utility measures project on.

    Parameters
    ----------
    module : torch.nn.Module
        The network (a ``torch.compile``\\ d one is read through its eager
        module).  It is never moved, cast or otherwise changed: ``fit`` stores
        in ``module_`` the module itself when it already is on ``device`` with
        ``dtype``, else a copy placed there (as skorch does).
    layers : str, list of str or None, default=None
        Which features to extract.  A name from ``module.named_modules()``
        selects that submodule's output; ``"name:input"`` its (first) input;
        ``""`` is the whole module, i.e. its outputs.  ``None``: the input of
        the last linear layer (:class:`torch.nn.Linear` or transformers'
        ``Conv1D``), the paper's penultimate-layer features.  ``"all"``: every
        leaf module that runs once per forward pass; ``"blocks"``: every
        element of an ``nn.Sequential`` / ``nn.ModuleList`` that has
        submodules (the rules are in :ref:`the user guide <whole_network>`).
        An unknown name raises a ``ValueError`` that lists close matches.
    batch_size : int, default=256
        Samples per forward pass for arrays, tensors, dicts and ``Dataset``\\ s
        (a ``DataLoader`` keeps its own batches).
    device : str, torch.device or None, default=None
        Where the forward passes run; None: where the module's parameters are
        (nothing is moved).
    dtype : torch.dtype or None, default=None
        Floating dtype of the forward pass; ``None`` keeps the module's.
        Floating inputs are cast to it; integer inputs (token ids, masks) keep
        their dtype, unless the model cannot take them (see
        ``integer_inputs_``).
    array_type : {"numpy", "torch"}, default="numpy"
        ``"numpy"``: features come back as numpy arrays on the host;
        ``"torch"``: as torch tensors on the device of the forward pass (no
        host copy; feed them to :class:`~skfeat.FeatureSpectrum` with array
        API dispatch on).
    sequence_reduction : str, default="token_mean"
        How a ``(seq, hidden)`` activation of a sample becomes features:
        ``"token_mean"``, the mean over its tokens (padding excluded with the
        batch's ``attention_mask``); ``"first_token"`` (``[CLS]``);
        ``"last_token"``, its last non-padding token; ``"flatten"``, all
        ``seq * hidden`` values; ``"tokens_as_samples"``, one row per token.
        The model's outputs of that shape are reduced the same way.
    spatial_reduction : str, default="flatten"
        How a channels-first ``(C, H, W)`` (or ``(C, D, H, W)``) activation
        becomes features: ``"flatten"``, all ``C * H * W`` values;
        ``"channel_mean"``, the mean of each channel (global average pooling,
        ``C`` features); ``"positions_as_samples"``, one row of ``C``
        features per position.
    output_selector : str, callable or None, default=None
        Which tensor of what the model returns is its output (for
        :meth:`outputs` and the layer ``""``): a key of a dict / Hugging
        Face ``ModelOutput``, an attribute name, or a callable
        ``output_selector(returned) -> tensor``.  None: ``"logits"`` when the
        model returns it, else the first tensor it returns.
    forward_kwargs : dict or None, default=None
        Extra keyword arguments of every forward call (constants such as
        ``{"use_cache": False}``; per-sample inputs belong in ``X``).
    verbose : bool, default=False
        Show a tqdm progress bar over batches.

    Attributes
    ----------
    module_ : torch.nn.Module
        The module that the forward passes run: ``module`` itself, or its
        copy on ``device`` with ``dtype``.
    layers_ : list of str
        The resolved layer names (``None`` resolved to ``"<last linear>:input"``).
    input_shape_ : tuple of int or dict
        Shape of one input sample (e.g. ``(C, H, W)`` for images); for dict
        inputs, the shape of each entry.
    n_features_in_ : int
        Number of input features, when the inputs are samples of one axis
        (``X`` of shape ``(n_samples, n_features)``).
    feature_shapes_ : dict of str to tuple of int
        Unreduced shape of one sample's activation at each layer.
    output_shape_ : tuple of int
        Shape of one sample's model output (before reduction).
    n_features_out_ : int
        Number of features of the first layer of ``layers_``.
    integer_inputs_ : {"kept", "cast"}
        Whether integer inputs reach the model as they are (token ids for an
        embedding) or cast to its dtype (a model that cannot take integers),
        as decided by fit's forward pass.

    See Also
    --------
    skfeat.FeatureSpectrum : Spectrum of the extracted features.
    skfeat.torch.FeatureTracker : The measures of the features during training.
    skfeat.torch.analyze : Every layer's measures from one pass, no feature stored.

    Notes
    -----
    ``X`` may be a numpy array, a torch tensor (samples first; images stay
    ``N x C x H x W``), a dict of them (e.g. a tokenizer's ``BatchEncoding``:
    the model is called as ``module(**batch)``), a
    :class:`torch.utils.data.Dataset` or a :class:`~torch.utils.data.DataLoader`;
    for the last two, the first element of an ``(input, target)`` pair is the
    input, and a dict batch without its ``"labels"`` entry is.  Floating
    inputs are cast to the model's dtype and then checked for NaN and
    infinity.

    Activations are copied at hook time into one preallocated buffer (safe
    when an in-place ReLU later overwrites them; host buffers use huge pages
    where the kernel allows).  When the number of rows is not known in
    advance (a loader of unknown length, several rows per sample) the
    batches are concatenated at the end, and a layer's rows are copied at
    hook time only when an in-place module changes them later in the
    forward pass (read from the tensors' version counters).  Modules whose mode matters
    (BatchNorm, Dropout) see eval mode; each submodule's ``training`` flag is
    put back afterwards, so BatchNorm's running statistics stay untouched.  A
    layer that runs twice per forward pass (a shared activation module) or
    whose activation does not have the samples first (``nn.LSTM`` with
    ``batch_first=False``) raises a ``ValueError`` that names the cause.

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skfeat.torch import FeatureExtractor
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ... )
    >>> X = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    >>> extractor = FeatureExtractor(net).fit(X)
    >>> extractor.layers_, extractor.module_ is net
    (['2:input'], True)
    >>> extractor.transform(X).shape
    (10, 8)
    >>> extractor.outputs(X).shape
    (10, 3)
    >>> sorted(extractor.extract(X, layers=["0", "1"]))
    ['0', '1']
    >>> FeatureExtractor(net, layers="all").fit(X).layers_
    ['0', '1', '2']
    """

    _parameter_constraints = {
        "module": [torch.nn.Module],
        "layers": [str, list, tuple, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device, None],
        "dtype": [torch.dtype, None],
        "array_type": [StrOptions({"numpy", "torch"})],
        "sequence_reduction": [StrOptions(set(SEQUENCE_REDUCTIONS))],
        "spatial_reduction": [StrOptions(set(SPATIAL_REDUCTIONS))],
        "output_selector": [str, callable, None],
        "forward_kwargs": [dict, None],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        module,
        layers=None,
        batch_size=256,
        device=None,
        dtype=None,
        array_type="numpy",
        sequence_reduction="token_mean",
        spatial_reduction="flatten",
        output_selector=None,
        forward_kwargs=None,
        verbose=False,
    ):
        self.module = module
        self.layers = layers
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.array_type = array_type
        self.sequence_reduction = sequence_reduction
        self.spatial_reduction = spatial_reduction
        self.output_selector = output_selector
        self.forward_kwargs = forward_kwargs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the model and the data, and record the layers' shapes.

        Runs one forward pass on the first sample(s) of ``X``.

        Parameters
        ----------
        X : array-like, torch.Tensor, dict, Dataset or DataLoader
            Inputs, samples first.
        y : None
            Ignored.

        Returns
        -------
        self : FeatureExtractor
            The fitted extractor.
        """
        if self.dtype is not None and not self.dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating torch dtype; got {self.dtype}.")
        module, device, dtype = placed_module(self.module, self.device, self.dtype)
        batches = Batches(X, self.batch_size)
        probe = batches.head(2)
        names = resolve_layers(module, self.layers)

        def forward(inputs):
            tap = LayerTap(
                module,
                [],
                self._reducer(),
                None,
                forward_kwargs=self.forward_kwargs,
            )
            with tap:
                tap.run(Batch(inputs))

        placed, cast, _ = integer_cast(forward, probe.inputs, device, dtype)
        placed = Batch(placed)
        if isinstance(names, str):
            names = probe_layers(
                module, names, placed, forward_kwargs=self.forward_kwargs
            )
        rows, shapes = self._probe(module, placed, names + [""])
        # Every fitted attribute is set at the end: a failed fit changes nothing.
        self.module_ = module
        self.layers_ = names
        self.integer_inputs_ = "cast" if cast else "kept"
        self.input_shape_ = _sample_shape(probe.inputs)
        if isinstance(self.input_shape_, tuple) and len(self.input_shape_) == 1:
            self.n_features_in_ = self.input_shape_[0]
        else:
            self.__dict__.pop("n_features_in_", None)
        self.feature_shapes_ = {name: shapes[name] for name in names}
        self.output_shape_ = shapes[""]
        self.n_features_out_ = int(rows[names[0]].shape[1])
        return self

    def transform(self, X):
        """Features of the one layer in ``layers_``.

        Parameters
        ----------
        X : array-like, torch.Tensor, dict, Dataset or DataLoader
            Inputs, samples first, each of shape ``input_shape_``.

        Returns
        -------
        Phi : ndarray or torch.Tensor of shape (n_samples, n_features_out_)
            The features (numpy, or torch with ``array_type="torch"``); more
            rows than samples with a ``*_as_samples`` reduction.
        """
        check_is_fitted(self)
        self._check_one_layer("transform")
        return self._run(X, self.layers_)[0][self.layers_[0]]

    def extract(self, X, layers=None):
        """Features of several layers in one forward pass.

        Parameters
        ----------
        X : array-like, torch.Tensor, dict, Dataset or DataLoader
            Inputs, samples first.
        layers : str, list of str or None, default=None
            Layer names as for the ``layers`` parameter (``""`` gives the model's
            outputs); ``None`` uses ``layers_``.

        Returns
        -------
        features : dict of str to array
            ``{layer: (n_rows, n_features) array}``, one entry per layer.
        """
        check_is_fitted(self)
        return self._run(X, self._names(layers))[0]

    def outputs(self, X):
        """Return the model's outputs: the learned function ``f(x)`` on a sample.

        Parameters
        ----------
        X : array-like, torch.Tensor, dict, Dataset or DataLoader
            Inputs, samples first.

        Returns
        -------
        F : ndarray or torch.Tensor of shape (n_samples, n_outputs)
            Outputs (e.g. logits, see ``output_selector``), reduced per sample
            as the features are (``sequence_reduction``).
        """
        check_is_fitted(self)
        return self._run(X, [""])[0][""]

    def decision_function(self, X):
        """Return the model's outputs, as :meth:`outputs` (scikit-learn's name).

        Parameters
        ----------
        X : array-like, torch.Tensor, dict, Dataset or DataLoader
            Inputs, samples first.

        Returns
        -------
        F : ndarray or torch.Tensor of shape (n_samples, n_outputs)
            Outputs (e.g. logits), reduced per sample.
        """
        return self.outputs(X)

    def transform_with_outputs(self, X):
        """:meth:`transform` and :meth:`outputs` from one forward pass.

        What the utility and CKA-MF scorers call on a pipeline that starts
        with this extractor, so that scoring runs the network once.

        Parameters
        ----------
        X : array-like, torch.Tensor, dict, Dataset or DataLoader
            Inputs, samples first.

        Returns
        -------
        Phi : ndarray or torch.Tensor of shape (n_samples, n_features_out_)
            The features of the layer in ``layers_``.
        F : ndarray or torch.Tensor of shape (n_samples, n_outputs)
            The model's outputs.
        """
        check_is_fitted(self)
        self._check_one_layer("transform_with_outputs")
        found = self._run(X, [self.layers_[0], ""])[0]
        return found[self.layers_[0]], found[""]

    def __getstate__(self):
        state = super().__getstate__()
        # Pickles load anywhere: modules on an accelerator travel on the CPU,
        # and the next call moves the fitted copy back to ``device``.
        for key in ("module", "module_"):
            module = state.get(key)
            if module is not None and _device_of(module).type != "cpu":
                state[key] = copy.deepcopy(module).to("cpu")
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.requires_fit = True
        return tags

    # -- internals ---------------------------------------------------------

    def _reducer(self):
        return Reducer(self.sequence_reduction, self.spatial_reduction)

    def _names(self, layers):
        if layers is None:
            return self.layers_
        names = resolve_layers(self.module_, layers)
        if isinstance(names, str):
            raise ValueError(
                f"layers={names!r} is resolved by fit; pass it as the layers "
                "parameter of the extractor."
            )
        return names

    def _check_one_layer(self, method):
        if len(self.layers_) != 1:
            raise ValueError(
                f"{method} returns one layer, but layers_={self.layers_}; use "
                "extract(X) for several layers in one forward pass."
            )

    def _call_module(self):
        """Return ``(module, device, dtype)`` of a call: the fitted module, placed."""
        module = self.module_
        device = _target_device(module, self.device)
        dtype = self.dtype or _floating_dtype(module)
        if not _is_placed(module, device, self.dtype):
            if module is unwrap_compiled(self.module):
                # The user's module, moved since fit: measure a placed copy,
                # never move theirs.
                module = copy.deepcopy(module)
            module.to(device=device, dtype=self.dtype)
        return module, device, dtype

    def _probe(self, module, batch, names):
        """Rows and unreduced shapes of ``names`` on one batch (fit's probe)."""
        rows = {}

        def keep(name, value, counts):
            rows[name] = value

        tap = LayerTap(
            module,
            names,
            self._reducer(),
            keep,
            output_selector=self.output_selector,
            forward_kwargs=self.forward_kwargs,
        )
        with tap:
            tap.run(batch)
        return rows, tap.shapes

    def _run(self, X, names):
        """One forward pass over ``X``: ``({layer: rows}, {layer: counts}, targets)``.

        ``counts`` are the rows per sample of each layer (None: one each);
        ``targets`` the labels that the batches carried (None when they
        carried none), in the order of the pass.
        """
        module, device, dtype = self._call_module()
        names = list(dict.fromkeys(names))
        batches = Batches(X, self.batch_size)
        if batches.in_memory:
            _check_sample_shape(batches.head(1).inputs, self)
        store = device if self.array_type == "torch" else torch.device("cpu")
        collectors = {
            name: _Collector(batches.n_samples, store, name) for name in names
        }

        def add(name, rows, counts):
            collectors[name].add(rows, counts)

        tap = LayerTap(
            module,
            names,
            self._reducer(),
            add,
            output_selector=self.output_selector,
            forward_kwargs=self.forward_kwargs,
        )
        cast = self.integer_inputs_ == "cast"
        placed = batches.placed(device, dtype, cast_integers=cast)
        if self.verbose:
            tqdm = import_optional("tqdm.auto", "FeatureExtractor(verbose=True)")
            placed = tqdm.tqdm(placed, total=batches.n_batches, desc="FeatureExtractor")
        targets = []
        with tap:
            for batch in placed:
                if not batches.in_memory:
                    _check_sample_shape(batch.inputs, self)
                    targets.append(batch.targets)
                for c in collectors.values():
                    c.begin_batch()
                tap.run(batch)
                # A list, not a generator: every collector ends its batch.
                if not all([c.end_batch() for c in collectors.values()]):  # noqa: C419
                    # A kept activation was changed in place after its hook
                    # (a layer that did not do so before): measure the batch
                    # again, copying every layer at hook time.
                    for c in collectors.values():
                        c.rollback()
                    tap.run(batch)
                    for c in collectors.values():
                        c.end_batch()
        result = {name: c.result() for name, c in collectors.items()}
        if self.array_type == "numpy":
            result = {name: value.numpy() for name, value in result.items()}
        counts = {name: c.counts() for name, c in collectors.items()}
        return result, counts, _concat_targets(targets)


def _concat_targets(targets):
    """Concatenate the labels of the loaded batches on the host (None if none)."""
    if not targets or any(t is None for t in targets):
        return None
    return np.concatenate([np.asarray(torch.as_tensor(t).cpu()) for t in targets])


def placed_module(module, device, dtype):
    """Return ``(module, device, dtype)``: ``module`` where asked, never moved.

    ``module`` itself when its parameters and buffers are on ``device`` with
    ``dtype`` (None: wherever they are, whatever they are), else a copy
    placed there.  A compiled module is unwrapped to its eager module.
    """
    module = unwrap_compiled(module)
    target = _target_device(module, device)
    if not _is_placed(module, target, dtype):
        module = copy.deepcopy(module).to(device=target, dtype=dtype)
    return module, target, dtype or _floating_dtype(module)


def _tensors(module):
    return chain(module.parameters(), module.buffers())


def _device_of(module):
    for tensor in _tensors(module):
        return tensor.device
    return torch.device("cpu")


def _target_device(module, device):
    if device is None:
        return _device_of(module)
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def _floating_dtype(module):
    for tensor in _tensors(module):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _is_placed(module, device, dtype):
    for tensor in _tensors(module):
        if tensor.device != device:
            return False
        if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
            return False
    return True


def _sample_shape(inputs):
    if isinstance(inputs, Mapping):
        return {key: tuple(value.shape[1:]) for key, value in inputs.items()}
    return tuple(inputs.shape[1:])


def _check_sample_shape(inputs, extractor):
    shape = _sample_shape(inputs)
    expected = extractor.input_shape_
    if isinstance(expected, dict) or isinstance(shape, dict):
        # Token inputs are padded per batch: their lengths may differ, their
        # keys may not.
        if not (isinstance(expected, dict) and isinstance(shape, dict)):
            raise ValueError(
                f"X has samples of shape {shape}, but this FeatureExtractor was "
                f"fitted on samples of shape {expected}."
            )
        if set(shape) != set(expected):
            raise ValueError(
                f"X has the inputs {sorted(shape)}, but this FeatureExtractor was "
                f"fitted on {sorted(expected)}."
            )
        return
    if not inputs.is_floating_point() and len(shape) == len(expected):
        return  # token ids: sequences padded to another length are fine
    if shape != expected:
        if len(shape) == 1 and len(expected) == 1:
            # scikit-learn's wording for a wrong number of features.
            raise ValueError(
                f"X has {shape[0]} features, but FeatureExtractor is expecting "
                f"{expected[0]} features as input (samples of shape {shape} vs "
                f"{expected})."
            )
        raise ValueError(
            f"X has samples of shape {shape}, but this FeatureExtractor was "
            f"fitted on samples of shape {expected}."
        )


class _Collector:
    """Rows of one layer, gathered over the batches of a pass.

    With a known number of samples and one row per sample, each batch's rows
    are copied at hook time into one preallocated buffer: that write is the
    result itself, and it is safe from in-place modules later in the forward
    pass.  Otherwise (a loader of unknown length, several rows per sample)
    the batches are concatenated at the end, and a copy at hook time would
    be a second one: the rows are kept as they are unless the layer's output
    is modified in place later in the forward pass.  That is learned on the
    first batch (copied, and its version counter read after the forward
    pass) and checked on every later one; a kept activation found modified
    makes :meth:`end_batch` return False, and the pass measures the batch
    again with copies (:meth:`rollback`).
    """

    def __init__(self, n_samples, device, name):
        self.n_samples = n_samples
        self.device = torch.device(device)
        self.name = name
        self.buffer = None
        self.chunks = []
        self.count_chunks = []
        self.filled = 0
        self.width = None
        # None: not yet known; True: copy at hook time; False: keep the rows.
        self.copy_rows = None
        self._watched = []
        self._kept_rows = []
        self._marks = None

    def begin_batch(self):
        self._watched = []
        self._marks = (
            len(self.chunks),
            len(self.count_chunks),
            len(self._kept_rows),
            self.filled,
        )

    def end_batch(self):
        """Learn or check whether the rows were modified after their hook."""
        changed = any(_version(rows) != version for rows, version in self._watched)
        kept = self.copy_rows is False
        if self.copy_rows is None and self._watched:
            self.copy_rows = changed
        self._watched = []
        if changed and kept:
            self.copy_rows = True
            return False
        return True

    def rollback(self):
        """Forget the rows of the current batch (it is measured again)."""
        chunks, counts, kept, filled = self._marks
        del self.chunks[chunks:], self.count_chunks[counts:], self._kept_rows[kept:]
        self.filled = filled
        self._watched = []

    def add(self, rows, counts):
        if self.width is None:
            self.width = rows.shape[1]
        elif rows.shape[1] != self.width:
            raise ValueError(
                f"Layer {self.name or '(the output)'!r} gives {rows.shape[1]} "
                f"features for this batch but {self.width} before (sequences of "
                "different lengths, flattened?): choose a reduction that gives "
                "every sample the same features, e.g. "
                "sequence_reduction='token_mean'."
            )
        if counts is not None:
            self.count_chunks.append(counts)
        if self.n_samples is None or counts is not None:
            # Rows of unknown total: concatenated at the end.
            self.chunks.append(self._kept(rows))
            return
        if self.buffer is None:
            self.buffer = _empty((self.n_samples, self.width), rows.dtype, self.device)
        stop = self.filled + rows.shape[0]
        if stop > self.n_samples:
            raise ValueError(
                f"Layer {self.name!r} gave more rows than the {self.n_samples} "
                "samples of the input."
            )
        self.buffer[self.filled : stop].copy_(rows)
        self.filled = stop

    def _kept(self, rows):
        """``rows`` as they are where that is safe, else a copy on the store."""
        if rows.device != self.device:
            return rows.to(self.device)  # a copy already
        version = _version(rows)
        size = rows.numel() * rows.element_size()
        if version is None or rows.untyped_storage().nbytes() > 2 * size:
            # No version counter (inference tensors), or a small view of a
            # large tensor (keeping it would keep all of it): copy.
            return rows.clone()
        self._watched.append((rows, version))
        if self.copy_rows is False:
            self._kept_rows.append((rows, version))
            return rows
        return rows.clone()

    def result(self):
        if self.buffer is None:
            if not self.chunks:
                raise ValueError(f"Layer {self.name!r} gave no rows.")
            if any(_version(rows) != v for rows, v in self._kept_rows):
                raise RuntimeError(
                    f"The activations of layer {self.name!r} were modified in "
                    "place after their forward pass (a module that reuses its "
                    "output tensor across calls): they cannot be read."
                )
            rows = sum(chunk.shape[0] for chunk in self.chunks)
            first = self.chunks[0]
            out = _empty((rows, first.shape[1]), first.dtype, self.device)
            return torch.cat(self.chunks, out=out)
        if self.filled != self.n_samples:
            raise RuntimeError(
                f"The layer {self.name!r} ran on {self.filled} of {self.n_samples} "
                "samples: the loader yielded fewer samples than its dataset has."
            )
        return self.buffer

    def counts(self):
        return torch.cat(self.count_chunks).numpy() if self.count_chunks else None


def _version(tensor):
    """Return the version counter of ``tensor`` (shared with its views), or None."""
    try:
        return tensor._version
    except (AttributeError, RuntimeError):
        return None


def _empty(shape, dtype, device):
    """Return an uninitialised output buffer on ``device`` (``torch.empty``).

    Not a numpy allocation: numpy advises the kernel to back large arrays
    with transparent huge pages, and under the memory churn of a forward
    pass the first write into such a buffer waits for the kernel to compact
    memory into huge pages.  Measured on the three-layer extraction of
    ``benchmarks/bench_extractor.py`` (2 048 images, a 400 MB result, one
    thread, same run): 1.85x a bare forward into a numpy buffer, 1.27x into
    ``torch.empty``'s (and 1.24x into numpy's with the advice turned off).
    A CPU result still reaches numpy without a copy (``Tensor.numpy``).
    """
    return torch.empty(shape, dtype=dtype, device=device)
