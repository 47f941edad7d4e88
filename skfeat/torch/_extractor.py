"""FeatureExtractor: the features of a torch module's layers as arrays."""

import copy
import difflib
import warnings
from itertools import chain
from numbers import Integral

import numpy as np
import scipy.sparse
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skfeat.utils._optional import import_optional

__all__ = ["FeatureExtractor"]

# "name:input" selects the input of a submodule instead of its output; ":" never
# occurs in the names that ``named_modules`` produces (they use ".").
_INPUT_SUFFIX = ":input"


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Features of the layers of any :class:`torch.nn.Module`, as a transformer.

    The paper's forward feature map is the input of a network's last linear
    layer (the penultimate post-activations); this transformer evaluates it, or
    any other layer, on a sample: the model runs in eval mode under
    :func:`torch.no_grad` in batches, forward hooks copy the chosen layers'
    activations, flattened to ``(n_samples, n_features)``, and everything the
    extractor changed on the model (hooks, train/eval mode) is restored when a
    call returns or raises.  Pipelines such as
    ``make_pipeline(FeatureExtractor(net), FeatureSpectrum())`` thus give the
    spectrum of ``net``'s features, and :meth:`outputs` gives the learned
    function that the utility measures project on.

    Parameters
    ----------
    module : torch.nn.Module
        The network.  ``fit`` moves it to ``device`` (and casts it to ``dtype``
        when given), as skorch does; nothing else about it is changed.
    layers : str, list of str or None, default=None
        Which features to extract.  A name from ``module.named_modules()``
        selects that submodule's output; ``"name:input"`` its (first) input;
        ``""`` is the whole module, i.e. its outputs.  ``None``: the input of the
        last :class:`torch.nn.Linear`, the paper's penultimate-layer features.
        An unknown name raises a ``ValueError`` that lists close matches.
    batch_size : int, default=256
        Samples per forward pass for array and ``Dataset`` inputs (a
        ``DataLoader`` keeps its own batches).
    device : str or torch.device, default="cpu"
        Where the forward passes run.
    dtype : torch.dtype or None, default=None
        Floating dtype of the forward pass; ``None`` keeps the module's.
        Inputs are cast to it.
    array_type : {"numpy", "torch"}, default="numpy"
        ``"numpy"``: features come back as numpy arrays on the host;
        ``"torch"``: as torch tensors on ``device`` (no host copy; feed them to
        :class:`~skfeat.FeatureSpectrum` with array API dispatch on).
    verbose : bool, default=False
        Show a tqdm progress bar over batches.

    Attributes
    ----------
    layers_ : list of str
        The resolved layer names (``None`` resolved to ``"<last linear>:input"``).
    input_shape_ : tuple of int
        Shape of one input sample (e.g. ``(C, H, W)`` for images).
    feature_shapes_ : dict of str to tuple of int
        Unflattened shape of one sample's activation at each layer.
    output_shape_ : tuple of int
        Shape of one sample's model output.
    n_features_out_ : int
        Number of flattened features of the first layer of ``layers_``.

    See Also
    --------
    skfeat.FeatureSpectrum : Spectrum of the extracted features.
    skfeat.torch.FeatureTracker : The measures of the features during training.

    Notes
    -----
    ``X`` may be a numpy array, a torch tensor (samples first; images stay
    ``N x C x H x W``), a :class:`torch.utils.data.Dataset` or a
    :class:`~torch.utils.data.DataLoader`; for the last two, the first element
    of a ``(input, target)`` pair is the input.  Inputs are cast to the
    module's floating dtype, as scikit-learn casts to float.

    Activations are copied at hook time into one preallocated buffer (safe
    when an in-place ReLU later overwrites them).  Modules whose mode matters
    (BatchNorm, Dropout) see eval mode; each submodule's ``training`` flag is
    put back afterwards, so BatchNorm's running statistics stay untouched.

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
    >>> extractor.layers_
    ['2:input']
    >>> extractor.transform(X).shape
    (10, 8)
    >>> extractor.outputs(X).shape
    (10, 3)
    >>> sorted(extractor.extract(X, layers=["0", "1"]))
    ['0', '1']
    """

    _parameter_constraints = {
        "module": [torch.nn.Module],
        "layers": [str, list, tuple, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "dtype": [torch.dtype, None],
        "array_type": [StrOptions({"numpy", "torch"})],
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        module,
        layers=None,
        batch_size=256,
        device="cpu",
        dtype=None,
        array_type="numpy",
        verbose=False,
    ):
        self.module = module
        self.layers = layers
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self.array_type = array_type
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the model and the data, and record the layers' shapes.

        Runs one forward pass on the first sample(s) of ``X``.

        Parameters
        ----------
        X : array-like, torch.Tensor, Dataset or DataLoader
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
        self._place_module()
        self.layers_ = self._resolve(self.layers)
        probe = _head(X, n=2)
        self.input_shape_ = None
        found = self._run(probe, self.layers_ + [""], keep_shapes=True)
        self.input_shape_ = self._probe_input_shape
        self.feature_shapes_ = {name: self._shapes[name] for name in self.layers_}
        self.output_shape_ = self._shapes[""]
        self.n_features_out_ = int(found[self.layers_[0]].shape[1])
        return self

    def transform(self, X):
        """Features of the one layer in ``layers_``, flattened.

        Parameters
        ----------
        X : array-like, torch.Tensor, Dataset or DataLoader
            Inputs, samples first, each of shape ``input_shape_``.

        Returns
        -------
        Phi : ndarray or torch.Tensor of shape (n_samples, n_features_out_)
            The features (numpy, or torch on ``device`` with ``array_type="torch"``).
        """
        check_is_fitted(self)
        if len(self.layers_) != 1:
            raise ValueError(
                f"transform returns one layer, but layers_={self.layers_}; use "
                "extract(X) for several layers in one forward pass."
            )
        return self._run(X, self.layers_)[self.layers_[0]]

    def extract(self, X, layers=None):
        """Features of several layers in one forward pass.

        Parameters
        ----------
        X : array-like, torch.Tensor, Dataset or DataLoader
            Inputs, samples first.
        layers : str, list of str or None, default=None
            Layer names as for the ``layers`` parameter (``""`` gives the model's
            outputs); ``None`` uses ``layers_``.

        Returns
        -------
        features : dict of str to array
            ``{layer: (n_samples, n_features) array}``, one entry per layer.
        """
        check_is_fitted(self)
        names = self.layers_ if layers is None else self._resolve(layers)
        return self._run(X, names)

    def outputs(self, X):
        """Return the model's outputs: the learned function ``f(x)`` on a sample.

        Parameters
        ----------
        X : array-like, torch.Tensor, Dataset or DataLoader
            Inputs, samples first.

        Returns
        -------
        F : ndarray or torch.Tensor of shape (n_samples, n_outputs)
            Outputs (e.g. logits), flattened per sample.
        """
        check_is_fitted(self)
        return self._run(X, [""])[""]

    def decision_function(self, X):
        """Return the model's outputs, as :meth:`outputs` (scikit-learn's name).

        Parameters
        ----------
        X : array-like, torch.Tensor, Dataset or DataLoader
            Inputs, samples first.

        Returns
        -------
        F : ndarray or torch.Tensor of shape (n_samples, n_outputs)
            Outputs (e.g. logits), flattened per sample.
        """
        return self.outputs(X)

    def __getstate__(self):
        state = super().__getstate__()
        # Pickles load anywhere: a module on an accelerator travels on the CPU
        # (the next call moves it back to ``device``).
        tensors = chain(self.module.parameters(), self.module.buffers())
        if any(t.device.type != "cpu" for t in tensors):
            state["module"] = copy.deepcopy(self.module).to("cpu")
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.requires_fit = True
        return tags

    # -- internals ---------------------------------------------------------

    def _place_module(self):
        device = torch.device(self.device)
        tensors = list(chain(self.module.parameters(), self.module.buffers()))
        if any(t.device != device for t in tensors) or (
            self.dtype is not None
            and any(t.is_floating_point() and t.dtype != self.dtype for t in tensors)
        ):
            self.module.to(device=device, dtype=self.dtype)
        floats = [t.dtype for t in tensors if t.is_floating_point()]
        self._dtype = self.dtype or (floats[0] if floats else torch.float32)
        self._device = device

    def _resolve(self, layers):
        modules = dict(self.module.named_modules())
        if layers is None:
            linear = [n for n, m in modules.items() if isinstance(m, torch.nn.Linear)]
            if not linear:
                raise ValueError(
                    f"layers=None selects the input of the last torch.nn.Linear, but "
                    f"{type(self.module).__name__} has none; name a layer, one of "
                    f"{_preview(modules)}."
                )
            return [linear[-1] + _INPUT_SUFFIX]
        names = [layers] if isinstance(layers, str) else list(layers)
        if not names:
            raise ValueError("layers is an empty list; name at least one layer.")
        resolved = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"Layer names must be str; got {name!r}.")
            base = name.removesuffix(_INPUT_SUFFIX)
            if base not in modules:
                close = difflib.get_close_matches(base, list(modules), n=5, cutoff=0.5)
                hint = f"close matches: {close}" if close else _preview(modules)
                raise ValueError(
                    f"{type(self.module).__name__} has no submodule named {base!r}; "
                    f"{hint}."
                )
            if name not in resolved:
                resolved.append(name)
        return resolved

    def _run(self, X, names, keep_shapes=False):
        """One forward pass over ``X``, copying the named layers."""
        self._place_module()
        names = list(dict.fromkeys(names))
        batches, n_samples, n_batches = self._batches(X)
        store_device = (
            self._device if self.array_type == "torch" else torch.device("cpu")
        )
        collectors = {name: _Collector(n_samples, store_device) for name in names}
        # Shapes are recorded by fit only: transform leaves the fitted state alone.
        shapes = {}
        if keep_shapes:
            self._shapes = shapes
        module = self.module
        modes = [(m, m.training) for m in module.modules()]
        handles = []
        try:
            for name in names:
                base = name.removesuffix(_INPUT_SUFFIX)
                hook = _hook(collectors[name], shapes, name, keep_shapes)
                sub = module.get_submodule(base)
                if name.endswith(_INPUT_SUFFIX):
                    handles.append(sub.register_forward_pre_hook(hook))
                else:
                    handles.append(sub.register_forward_hook(hook))
            module.eval()
            if self.verbose:
                tqdm = import_optional("tqdm.auto", "FeatureExtractor(verbose=True)")
                batches = tqdm.tqdm(batches, total=n_batches, desc="FeatureExtractor")
            with torch.no_grad():
                for batch in batches:
                    module(batch)
        finally:
            for handle in handles:
                handle.remove()
            for submodule, training in modes:
                submodule.training = training
        result = {name: collectors[name].result() for name in names}
        if self.array_type == "numpy":
            result = {name: value.numpy() for name, value in result.items()}
        return result

    def _batches(self, X):
        """Return ``(batches on device, n_samples or None, n_batches)``."""
        data = torch.utils.data
        if isinstance(X, data.DataLoader):
            n = _len_or_none(X.dataset)
            return self._checked(_inputs_of(X)), n, _len_or_none(X)
        if isinstance(X, data.Dataset) and not isinstance(X, torch.Tensor):
            loader = data.DataLoader(X, batch_size=self.batch_size, shuffle=False)
            n = _len_or_none(X)
            return self._checked(_inputs_of(loader)), n, _len_or_none(loader)
        X = _as_tensor(X)
        self._check_sample_shape(X.shape[1:])
        n, size = X.shape[0], self.batch_size
        batches = (
            X[start : start + size].to(self._device, self._dtype)
            for start in range(0, n, size)
        )
        return batches, n, -(-n // size)

    def _checked(self, batches):
        """Validate each batch of a Dataset / DataLoader as it arrives."""
        for batch in batches:
            batch = _as_tensor(batch)
            self._check_sample_shape(batch.shape[1:])
            yield batch.to(self._device, self._dtype)

    def _check_sample_shape(self, shape):
        shape = tuple(shape)
        expected = getattr(self, "input_shape_", None)
        if expected is None:
            self._probe_input_shape = shape
        elif shape != expected:
            raise ValueError(
                f"X has samples of shape {shape}, but this FeatureExtractor was "
                f"fitted on samples of shape {expected}."
            )


class _Collector:
    """Flattened activations of one layer, copied into one buffer."""

    def __init__(self, n_samples, device):
        self.n_samples = n_samples
        self.device = device
        self.buffer = None
        self.chunks = []
        self.filled = 0

    def add(self, activation):
        flat = activation.detach().reshape(activation.shape[0], -1)
        if self.n_samples is None:
            # Unknown length (iterable dataset): copy now, concatenate at the end.
            self.chunks.append(flat.to(self.device, copy=True))
            return
        if self.buffer is None:
            self.buffer = torch.empty(
                (self.n_samples, flat.shape[1]), dtype=flat.dtype, device=self.device
            )
        stop = self.filled + flat.shape[0]
        if stop > self.n_samples or flat.shape[1] != self.buffer.shape[1]:
            raise ValueError(
                f"A layer produced activations of shape {tuple(flat.shape)} after "
                f"{self.filled} samples; expected {self.n_samples} samples of "
                f"{self.buffer.shape[1]} features in all."
            )
        self.buffer[self.filled : stop].copy_(flat)
        self.filled = stop

    def result(self):
        if self.n_samples is None:
            return torch.cat(self.chunks) if self.chunks else torch.empty(0, 0)
        if self.buffer is None or self.filled != self.n_samples:
            raise RuntimeError(
                f"The layer ran on {self.filled} of {self.n_samples} samples: was it "
                "skipped in forward, or called more than once per batch?"
            )
        return self.buffer


def _hook(collector, shapes, name, keep_shapes):
    def hook(module, args, output=None):
        value = args if output is None else output
        activation = _first_tensor(value)
        if keep_shapes:
            shapes[name] = tuple(activation.shape[1:])
        collector.add(activation)

    return hook


def _first_tensor(value):
    """Return the tensor in a module's input or output (tuple/list/dict)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = value["logits"] if "logits" in value else list(value.values())
    if isinstance(value, (tuple, list)) and value:
        return _first_tensor(value[0])
    raise TypeError(
        f"Expected a tensor (or a tuple/list/dict of tensors); got {type(value)}."
    )


def _inputs_of(loader):
    for batch in loader:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _as_tensor(X):
    """Samples-first, numeric, finite tensor with at least one feature axis."""
    if isinstance(X, torch.Tensor):
        tensor = X
        if tensor.dtype == torch.bool or tensor.is_complex():
            raise TypeError(f"X must be real numeric; got dtype {tensor.dtype}.")
    else:
        if scipy.sparse.issparse(X):
            raise TypeError(
                "X is a sparse matrix; FeatureExtractor needs dense inputs "
                "(X.toarray())."
            )
        array = np.asarray(X)
        if not (np.issubdtype(array.dtype, np.number) and array.dtype.kind in "iuf"):
            raise TypeError(f"X must be real numeric; got dtype {array.dtype}.")
        with warnings.catch_warnings():
            # Read-only arrays (memmaps) are shared, not copied: the extractor
            # only reads them, so torch's non-writable warning does not apply.
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.ndim < 2:
        raise ValueError(
            f"X must have a samples axis and at least one feature axis; got shape "
            f"{tuple(tensor.shape)}. Reshape your data with X.reshape(-1, 1) if it "
            "has a single feature."
        )
    if tensor.shape[0] == 0:
        raise ValueError("X has no samples.")
    if any(size == 0 for size in tensor.shape[1:]):
        # scikit-learn's wording, which its common checks look for.
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(tensor.shape)}) while a "
            "minimum of 1 is required."
        )
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError("X contains NaN or infinity.")
    return tensor


def _head(X, n):
    """Return the first ``n`` samples of ``X`` (the probe pass of ``fit``)."""
    if isinstance(X, torch.utils.data.DataLoader):
        for batch in _inputs_of(X):
            return _as_tensor(batch)[:n]
        raise ValueError("The DataLoader yields no batches.")
    if isinstance(X, torch.utils.data.Dataset) and not isinstance(X, torch.Tensor):
        if _len_or_none(X) == 0:
            raise ValueError("The Dataset has no samples.")
        loader = torch.utils.data.DataLoader(X, batch_size=n, shuffle=False)
        return _head(loader, n)
    return _as_tensor(X)[:n]


def _len_or_none(obj):
    try:
        return len(obj)
    except TypeError:
        return None


def _preview(modules, n=8):
    names = [repr(name) for name in modules if name]
    more = f", ... ({len(names) - n} more)" if len(names) > n else ""
    return "available: " + ", ".join(names[:n]) + more
