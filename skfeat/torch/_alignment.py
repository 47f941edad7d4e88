"""Neural feature ansatz: NFM, tangent kernel, AGOP and (centred) NFA per layer.

For a layer ``l`` with weight ``W`` (``d_out x d_in``), input ``a`` and
pre-activation ``h = W a + b`` (spec section 6):

* neural feature matrix ``F = W^T W``;
* pre-activation tangent kernel ``K = sum_x sum_c grad_h f_c grad_h f_c^T``
  (``d_out x d_out``, summed over the data and the output units, no ``1/n``);
* average gradient outer product ``G = W^T K W`` (``d_in x d_in``), which equals
  ``sum_x sum_c grad_a f_c grad_a f_c^T``;
* NFA ``= rho(F, G^power)`` and the centred C-NFA
  ``= rho(dW^T K dW, dW^T dW)`` with ``dW = W - W(init)``.

How the gradients are computed.  One forward pass per batch, in eval mode, with a
forward hook on each requested layer that keeps its output ``h``; then one
``torch.autograd.grad`` call per output unit ``c`` of ``sum_i f_c(x_i)``
with respect to every kept ``h``.  Because the samples of a batch do not interact
in eval mode, row ``i`` of that gradient is the per-sample gradient
``grad_{h_i} f_c(x_i)``: a batch of per-sample gradients costs one backward
pass, never a Python loop over samples.  Each backward's gradient is folded into
``K`` at once (``K += g^T g``), so memory is bounded by the batch.  ``K`` is
accumulated in float64; ``G`` follows from ``K`` by two small products, so the
``d_in x d_in`` AGOP never needs gradients with respect to the (possibly much
wider, for convolutions) layer input.

Convolutions use the unfolded-patch form: the weight is read as
``d_out x (c_in * kh * kw)`` (the column order of
:func:`torch.nn.functional.unfold`) and every spatial position of every sample
counts as one "input" ``a`` = one patch, so ``K`` sums
``grad_{h_p} f_c grad_{h_p} f_c^T`` over samples, output units *and* positions
``p``, and ``G = W^T K W`` is the AGOP with respect to the patches, each patch
treated as an independent input (the convention of Beaglehole et al. for
convolutional networks).  A ``Linear`` layer applied to inputs with extra
leading dimensions (sequences) is treated the same way, position by position.
"""

import difflib
import math
import threading
import warnings
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._activations import Reducer, select_tensor
from ._inputs import Batch, Batches, call_model, integer_cast, place
from ._layers import is_linear_like, linear_weight

__all__ = [
    "agop",
    "alignment_per_layer",
    "nfa_correlation",
    "neural_feature_matrix",
    "tangent_kernel",
]

# The layer kinds whose weight is a matrix acting on inputs or on patches
# (with the linear-like layers of :func:`~._layers.is_linear_like`).
_CONV_TYPES = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)


def is_weight_layer(module):
    """Whether ``module`` is a Linear-like or Conv layer (one weight matrix)."""
    return is_linear_like(module) or isinstance(module, _CONV_TYPES)


# Set while skfeat runs its own measurement passes, so that recorders of the
# user's training steps (VirtualCovariance) do not count their backwards.
_measuring = threading.local()


def is_measuring():
    """Whether the current thread is inside a skfeat measurement pass."""
    return getattr(_measuring, "depth", 0) > 0


def find_layer(model, layer):
    """Return the submodule of ``model`` named ``layer`` (a Linear or Conv).

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    layer : str
        A name from ``model.named_modules()``.

    Returns
    -------
    module : torch.nn.Module
        The layer.

    Raises
    ------
    ValueError
        If no submodule has that name; the message lists close matches.
    TypeError
        If the layer is not a Linear / Conv layer, or is a grouped convolution.
    """
    modules = dict(model.named_modules())
    if layer not in modules:
        names = [n for n, m in modules.items() if is_weight_layer(m)]
        close = difflib.get_close_matches(layer, list(modules), n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"No layer named {layer!r} in the model.{hint} "
            f"Linear/Conv layers are: {names}."
        )
    module = modules[layer]
    if not is_weight_layer(module):
        raise TypeError(
            f"Layer {layer!r} is a {type(module).__name__}; the neural feature "
            "ansatz needs a Linear (or transformers' Conv1D) or Conv layer (a "
            "weight matrix)."
        )
    if getattr(module, "groups", 1) != 1:
        raise TypeError(
            f"Layer {layer!r} is a grouped convolution (groups={module.groups}); "
            "its weight is not one matrix on the unfolded patches."
        )
    if not bool(torch.isfinite(module.weight).all()):
        raise ValueError(
            f"Layer {layer!r} has NaN or infinite weights (did training "
            "diverge?): W^T W and the AGOP are not defined."
        )
    return module


def weight_matrix(module):
    """Return the weight of a Linear / Conv layer as a ``d_out x d_in`` matrix.

    For convolutions ``d_in = c_in * prod(kernel_size)``, in the column order of
    :func:`torch.nn.functional.unfold`; transformers' ``Conv1D`` stores its
    weight ``d_in x d_out``, read transposed.
    """
    if is_linear_like(module):
        return linear_weight(module)
    weight = module.weight
    return weight.reshape(weight.shape[0], -1)


def _as_layer_names(layers):
    if isinstance(layers, str):
        return [layers]
    layers = list(layers)
    if not layers or not all(isinstance(name, str) for name in layers):
        raise TypeError("layers must be a layer name or a nonempty list of names.")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers contains a name twice: {layers}.")
    return layers


def _positions_by_features(tensor, module):
    """Rows = (sample, position) pairs, columns = channels / features."""
    if is_linear_like(module):
        return tensor.reshape(-1, tensor.shape[-1])
    # Conv output (batch, channels, *spatial) -> (batch * positions, channels).
    return tensor.flatten(2).transpose(1, 2).reshape(-1, tensor.shape[1])


def _restore_mode(model, modes):
    for module, training in modes.items():
        module.train(training)


def tangent_kernels(
    model, X, layers, batch_size, *, output_selector=None, forward_kwargs=None
):
    """``{layer: K_l}`` for several layers from one pass over ``X``.

    The shared engine of :func:`tangent_kernel`, :func:`agop` and the NFA:
    one forward pass per batch, one backward per output unit per batch.
    ``X`` is read as the extractor reads it (arrays, tensors, dicts of
    tensors, Datasets, DataLoaders; :mod:`skfeat.torch._inputs`); the
    model's output is selected and a sequence output averaged over its
    tokens as the extractor does (:mod:`skfeat.torch._activations`).
    Returns float64 tensors on the layers' device, the number of outputs and
    the number of samples.
    """
    layers = _as_layer_names(layers)
    modules = {name: find_layer(model, name) for name in layers}
    batches = Batches(X, batch_size)
    first = next(iter(modules.values())).weight
    device, dtype = first.device, first.dtype
    acc = torch.float64 if device.type != "mps" else torch.float32
    kernels = {
        name: torch.zeros(2 * (weight_matrix(m).shape[0],), dtype=acc, device=device)
        for name, m in modules.items()
    }
    kept = {}
    reducer = Reducer("token_mean")

    def keep_output(name):
        def hook(module, inputs, output):
            if name in kept:
                raise ValueError(
                    f"Layer {name!r} is called more than once per forward pass "
                    "(shared weights); its tangent kernel is not defined here."
                )
            # A leaf where nothing upstream needs gradients (frozen weights),
            # so that the output can be differentiated against anyway.
            if not output.requires_grad:
                output = output.detach().requires_grad_(True)
            kept[name] = output
            # Downstream in-place ops (ReLU(inplace=True)) act on the copy and
            # leave the kept pre-activation, and its gradient, untouched.
            return output.clone()

        return hook

    def forward(inputs):
        kept.clear()
        return call_model(model, inputs, forward_kwargs)

    modes = {m: m.training for m in model.modules()}
    handles = []
    n_outputs = None
    n_samples = 0
    _measuring.depth = getattr(_measuring, "depth", 0) + 1
    try:
        model.eval()
        for name, module in modules.items():
            handles.append(module.register_forward_hook(keep_output(name)))
        with torch.enable_grad():
            cast = None
            for raw in batches.raw():
                if cast is None:
                    # The first batch decides whether integers need a cast.
                    inputs, cast, returned = integer_cast(
                        forward, raw.inputs, device, dtype
                    )
                else:
                    inputs = place(raw.inputs, device, dtype, cast_integers=cast)
                    returned = forward(inputs)
                batch = Batch(inputs)
                outputs = select_tensor(returned, output_selector)
                size = batch.size
                if outputs.ndim == 0 or outputs.shape[0] != size:
                    # Per-sample gradients need one output row per sample.
                    raise ValueError(
                        f"The model returned outputs of shape {tuple(outputs.shape)}"
                        f" for a batch of {size} samples; it must return one row "
                        "per sample (is X missing its sample axis?)."
                    )
                outputs, _ = reducer.rows(outputs, "tokens", batch.mask)
                n_outputs = outputs.shape[1]
                n_samples += size
                missing = [name for name in layers if name not in kept]
                if missing:
                    raise ValueError(
                        f"Layers {missing} were not used by the forward pass."
                    )
                names = list(kept)
                for c in range(n_outputs):
                    grads = torch.autograd.grad(
                        outputs[:, c].sum(),
                        [kept[name] for name in names],
                        retain_graph=c + 1 < n_outputs,
                        allow_unused=True,
                    )
                    for name, grad in zip(names, grads):
                        if grad is None:  # the output does not depend on the layer
                            continue
                        rows = _positions_by_features(grad.detach(), modules[name])
                        kernels[name] += (rows.T @ rows).to(acc)
                kept.clear()
    finally:
        _measuring.depth -= 1
        for handle in handles:
            handle.remove()
        kept.clear()
        _restore_mode(model, modes)
    return kernels, n_outputs, n_samples


def _to_numpy(tensor):
    return tensor.detach().to("cpu", torch.float64).numpy()


def _agop_from_kernel(kernel, weight):
    weight = weight.detach().to(kernel.dtype)
    return weight.T @ kernel @ weight


_batch_size = [Interval(Integral, 1, None, closed="left")]
# What the model can be fed (see :mod:`skfeat.torch._inputs`).
_INPUT_TYPES = [
    "array-like",
    torch.Tensor,
    Mapping,
    torch.utils.data.Dataset,
    torch.utils.data.DataLoader,
]


@validate_params(
    {
        "model": [torch.nn.Module],
        "X": _INPUT_TYPES,
        "layer": [str],
        "batch_size": _batch_size,
    },
    prefer_skip_nested_validation=True,
)
def tangent_kernel(model, X, layer, *, batch_size=256):
    """Pre-activation tangent kernel ``K_l`` of a layer, summed over data and outputs.

    ``K_l = sum_x sum_c grad_{h_l} f_c(x) grad_{h_l} f_c(x)^T`` where ``h_l`` is
    the layer's output (pre-activation) and ``f_c`` the model's output units
    (spec section 6; no ``1/n``).  For convolutions the sum also runs over the
    spatial positions of ``h_l`` (see :func:`agop`).

    Computed in eval mode (dropout off, batch norm on running statistics) so
    that samples do not interact, with one backward pass per output unit per
    batch; the model's mode is restored and the hooks removed afterwards.

    Parameters
    ----------
    model : torch.nn.Module
        The network; its outputs are flattened to ``(n_samples, n_outputs)``.
    X : array-like or torch.Tensor of shape (n_samples, ...)
        Inputs, moved batch by batch to the layer's device and dtype.
    layer : str
        Name of a Linear / Conv layer in ``model.named_modules()``.
    batch_size : int, default=256
        Samples per forward pass; bounds the memory.

    Returns
    -------
    kernel : ndarray of shape (d_out, d_out)
        ``K_l`` in float64.

    References
    ----------
    .. [1] Beaglehole, Mitliagkas, Agarwala. "Feature learning as alignment: a
       structural property of gradient descent in non-linear neural networks",
       arXiv:2402.05271.
    .. [2] Radhakrishnan, Beaglehole, Pandit, Belkin. "Mechanism for feature
       learning in neural networks and backpropagation-free machine learning
       models", Science 383 (2024).

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import tangent_kernel
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
    >>> with torch.no_grad():
    ...     _ = model[0].weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1, 0]]))
    >>> tangent_kernel(model, torch.ones(5, 3), "0")  # f = h: K = n * I
    array([[5., 0.],
           [0., 5.]])
    """
    kernels, _, n_samples = tangent_kernels(model, X, layer, batch_size)
    return _to_numpy(kernels[layer])


@validate_params(
    {
        "model": [torch.nn.Module],
        "X": _INPUT_TYPES,
        "layer": [str],
        "batch_size": _batch_size,
        "average": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def agop(model, X, layer, *, batch_size=256, average=False):
    """Average gradient outer product ``G_l`` with respect to a layer's input.

    ``G_l = sum_x sum_c grad_a f_c(x) grad_a f_c(x)^T = W_l^T K_l W_l`` where
    ``a`` is the input of the layer, ``W_l`` its weight and ``K_l`` the
    pre-activation :func:`tangent_kernel` (spec section 6; a sum, no ``1/n``,
    despite the name; ``average=True`` divides by the number of samples ``n``,
    the mean over the data that Radhakrishnan et al.'s code computes).  It is
    computed as ``W^T K W`` from the gradients with respect to the layer's
    output: one backward pass per output unit per batch, memory bounded by the
    batch, in eval mode (see :func:`tangent_kernel`).

    For a convolution the weight is read as a ``d_out x (c_in * kh * kw)``
    matrix acting on unfolded patches (:func:`torch.nn.functional.unfold`
    order) and every patch of every sample counts as one input: ``G_l`` sums
    the outer products of the gradients with respect to each patch, treated as
    an independent input, over samples, outputs and positions.

    Parameters
    ----------
    model : torch.nn.Module
        The network; its outputs are flattened to ``(n_samples, n_outputs)``.
    X : array-like or torch.Tensor of shape (n_samples, ...)
        Inputs, moved batch by batch to the layer's device and dtype.
    layer : str
        Name of a Linear / Conv layer in ``model.named_modules()``.
    batch_size : int, default=256
        Samples per forward pass; bounds the memory.
    average : bool, default=False
        ``False``: the sum over the samples (the spec's ``G_l``); ``True``:
        the average ``G_l / n``.  The NFA correlations are the same either way
        (they are scale-invariant).

    Returns
    -------
    agop : ndarray of shape (d_in, d_in)
        ``G_l`` in float64 (``d_in = c_in * kh * kw`` for a Conv2d).

    References
    ----------
    .. [1] Beaglehole, Mitliagkas, Agarwala. "Feature learning as alignment: a
       structural property of gradient descent in non-linear neural networks",
       arXiv:2402.05271.
    .. [2] Radhakrishnan, Beaglehole, Pandit, Belkin. "Mechanism for feature
       learning in neural networks and backpropagation-free machine learning
       models", Science 383 (2024).

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import agop
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False))
    >>> with torch.no_grad():
    ...     _ = model[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
    >>> agop(model, torch.zeros(3, 2), "0")  # f linear: G = n * w w^T
    array([[ 3.,  6.],
           [ 6., 12.]])
    >>> agop(model, torch.zeros(3, 2), "0", average=True)  # w w^T
    array([[1., 2.],
           [2., 4.]])
    """
    kernels, _, n_samples = tangent_kernels(model, X, layer, batch_size)
    module = find_layer(model, layer)
    gop = _to_numpy(_agop_from_kernel(kernels[layer], weight_matrix(module)))
    return gop / n_samples if average else gop


@validate_params(
    {"model": [torch.nn.Module], "layer": [str, None]},
    prefer_skip_nested_validation=True,
)
def neural_feature_matrix(model, layer=None):
    """Neural feature matrix ``F_l = W_l^T W_l`` of a Linear / Conv layer.

    Parameters
    ----------
    model : torch.nn.Module
        The layer itself (``layer=None``) or a network containing it.
    layer : str, default=None
        Name of the layer in ``model.named_modules()``; None when ``model`` is
        the layer.

    Returns
    -------
    nfm : ndarray of shape (d_in, d_in)
        ``W^T W`` in float64; a convolution's weight is read as
        ``d_out x (c_in * kh * kw)`` (unfolded patches).

    References
    ----------
    .. [1] Beaglehole, Mitliagkas, Agarwala. "Feature learning as alignment: a
       structural property of gradient descent in non-linear neural networks",
       arXiv:2402.05271.
    .. [2] Radhakrishnan, Beaglehole, Pandit, Belkin. "Mechanism for feature
       learning in neural networks and backpropagation-free machine learning
       models", Science 383 (2024).

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import neural_feature_matrix
    >>> linear = torch.nn.Linear(2, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = linear.weight.copy_(torch.tensor([[1.0, 2.0]]))
    >>> neural_feature_matrix(linear)
    array([[1., 2.],
           [2., 4.]])
    """
    module = find_layer(model, "" if layer is None else layer)
    weight = weight_matrix(module).detach().to(torch.float64)
    return _to_numpy(weight.T @ weight)


def matrix_power_psd(matrix, power):
    """Return ``matrix ** power`` of a symmetric PSD array (eigenvalues clipped)."""
    if power == 1:
        return matrix
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.clip(values, 0.0, None) ** power) @ vectors.T


def matrix_correlation(A, B, correlation="pearson"):
    """Pearson correlation (or uncentred cosine) of the entries of two matrices.

    Defined as 0, with a warning, when one side is constant (Pearson) or zero
    (cosine), e.g. the C-NFA at initialisation where ``dW = 0``.
    """
    a = np.asarray(A, dtype=np.float64).ravel()
    b = np.asarray(B, dtype=np.float64).ravel()
    sizes = [np.abs(a).max(), np.abs(b).max()]
    if correlation == "pearson":
        a = a - a.mean()
        b = b - b.mean()
    norms = [math.sqrt(float(a @ a)), math.sqrt(float(b @ b))]
    # Centring a constant matrix leaves rounding noise, not zeros: compare the
    # spread with the rounding error of the entries.
    tolerance = [a.size * np.finfo(np.float64).eps * size for size in sizes]
    if any(n <= tol or n == 0 for n, tol in zip(norms, tolerance)):
        warnings.warn(
            "A matrix in the correlation is constant (or zero); the correlation "
            "is set to 0.",
            UserWarning,
            stacklevel=3,
        )
        return 0.0
    norm = norms[0] * norms[1]
    return float(np.clip((a @ b) / norm, -1.0, 1.0))


def _weight_change(module, name, init_state):
    key = f"{name}.weight" if name else "weight"
    if key not in init_state:
        raise ValueError(f"init_state has no entry {key!r} (a model.state_dict()).")
    initial = init_state[key]
    if tuple(initial.shape) != tuple(module.weight.shape):
        raise ValueError(
            f"init_state[{key!r}] has shape {tuple(initial.shape)}; the layer's "
            f"weight has shape {tuple(module.weight.shape)}."
        )
    initial = torch.as_tensor(initial).to(module.weight.device, torch.float64)
    current = module.weight.detach().to(torch.float64)
    return (current - initial).reshape(current.shape[0], -1)


def _alignment_from_kernel(module, name, kernel, *, power, init_state, correlation):
    """NFA (and C-NFA when ``init_state`` is given) of one layer from its ``K``."""
    weight = weight_matrix(module).detach().to(torch.float64)
    kernel = kernel.to(torch.float64)
    nfm = _to_numpy(weight.T @ weight)
    gop = matrix_power_psd(_to_numpy(weight.T @ kernel @ weight), power)
    result = {"nfa": matrix_correlation(nfm, gop, correlation)}
    if init_state is not None:
        delta = _weight_change(module, name, init_state)
        centred_gop = matrix_power_psd(_to_numpy(delta.T @ kernel @ delta), power)
        result["cnfa"] = matrix_correlation(
            centred_gop, _to_numpy(delta.T @ delta), correlation
        )
    return result


_nfa_params = {
    "model": [torch.nn.Module],
    "X": _INPUT_TYPES,
    "power": [Interval(Real, 0, None, closed="neither")],
    "init_state": [dict, None],
    "correlation": [StrOptions({"pearson", "cosine"})],
    "batch_size": _batch_size,
}


@validate_params(
    {**_nfa_params, "layer": [str], "centered": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def nfa_correlation(
    model,
    X,
    layer,
    *,
    power=1.0,
    init_state=None,
    centered=False,
    correlation="pearson",
    batch_size=256,
):
    """Neural feature ansatz correlation of a layer: ``rho(W^T W, AGOP^power)``.

    ``NFA_l = rho(F_l, G_l^power)`` with ``F_l = W_l^T W_l`` and ``G_l`` the
    :func:`agop`; ``power=0.5`` gives the square-root variant of Radhakrishnan
    et al. [2]_.  With ``centered=True`` it is the centred NFA of Beaglehole et
    al. [1]_: ``C-NFA_l = rho(dW^T K_l dW, dW^T dW)`` with
    ``dW = W_l - W_l(init)`` taken from ``init_state``; the power then applies
    to ``dW^T K_l dW``.  ``rho`` is the Pearson correlation of the matrix
    entries (``correlation="cosine"``: uncentred cosine).  When one side is
    constant (e.g. C-NFA before any training, ``dW = 0``) the correlation is
    0 with a :class:`UserWarning`.

    Parameters
    ----------
    model : torch.nn.Module
        The network; its outputs are flattened to ``(n_samples, n_outputs)``.
    X : array-like or torch.Tensor of shape (n_samples, ...)
        Inputs on which the AGOP / tangent kernel is taken.
    layer : str
        Name of a Linear / Conv layer in ``model.named_modules()``.
    power : float, default=1.0
        Power of the AGOP side (matrix power of a PSD matrix); 0.5 for the
        square-root variant.
    init_state : dict, default=None
        A ``model.state_dict()`` snapshot taken at initialisation (copy it:
        ``{k: v.clone() for k, v in model.state_dict().items()}``); needed
        for ``centered=True``.
    centered : bool, default=False
        Return the centred C-NFA instead of the NFA.
    correlation : {"pearson", "cosine"}, default="pearson"
        Correlation of the matrix entries.
    batch_size : int, default=256
        Samples per forward pass.

    Returns
    -------
    correlation : float
        In ``[-1, 1]``.

    See Also
    --------
    alignment_per_layer : NFA and C-NFA of several layers from one pass.

    References
    ----------
    .. [1] Beaglehole, Mitliagkas, Agarwala. "Feature learning as alignment: a
       structural property of gradient descent in non-linear neural networks",
       arXiv:2402.05271.
    .. [2] Radhakrishnan, Beaglehole, Pandit, Belkin. "Mechanism for feature
       learning in neural networks and backpropagation-free machine learning
       models", Science 383 (2024).

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import nfa_correlation
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> rho = nfa_correlation(model, torch.randn(32, 4), "0")
    >>> -1.0 <= rho <= 1.0
    True
    """
    if centered and init_state is None:
        raise ValueError("centered=True needs init_state (the initial state_dict).")
    kernels, _, n_samples = tangent_kernels(model, X, layer, batch_size)
    result = _alignment_from_kernel(
        find_layer(model, layer),
        layer,
        kernels[layer],
        power=power,
        init_state=init_state if centered else None,
        correlation=correlation,
    )
    return result["cnfa"] if centered else result["nfa"]


@validate_params(
    {**_nfa_params, "layers": [str, list, tuple]},
    prefer_skip_nested_validation=True,
)
def alignment_per_layer(
    model,
    X,
    layers,
    *,
    power=1.0,
    init_state=None,
    correlation="pearson",
    batch_size=256,
):
    """NFA (and C-NFA) of several layers from one pass: the per-epoch record.

    One forward pass per batch and one backward per output unit give the
    tangent kernels of all ``layers`` at once; from them the NFA of each
    layer, and the C-NFA when ``init_state`` is given (see
    :func:`nfa_correlation`).  Call it once per epoch inside a training loop
    (or from a tracker) to follow the alignment over training.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    X : array-like or torch.Tensor of shape (n_samples, ...)
        Inputs on which the tangent kernels are taken.
    layers : str or list of str
        Names of Linear / Conv layers in ``model.named_modules()``.
    power : float, default=1.0
        Power of the AGOP side; 0.5 for the square-root variant.
    init_state : dict, default=None
        ``model.state_dict()`` snapshot at initialisation; when given, the
        C-NFA is reported too.
    correlation : {"pearson", "cosine"}, default="pearson"
        Correlation of the matrix entries.
    batch_size : int, default=256
        Samples per forward pass.

    Returns
    -------
    alignment : dict
        ``{layer: {"nfa": float, "cnfa": float}}`` (``"cnfa"`` only with
        ``init_state``), in the order of ``layers``.

    References
    ----------
    .. [1] Beaglehole, Mitliagkas, Agarwala. "Feature learning as alignment: a
       structural property of gradient descent in non-linear neural networks",
       arXiv:2402.05271.
    .. [2] Radhakrishnan, Beaglehole, Pandit, Belkin. "Mechanism for feature
       learning in neural networks and backpropagation-free machine learning
       models", Science 383 (2024).

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import alignment_per_layer
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> init = {k: v.clone() for k, v in model.state_dict().items()}
    >>> with torch.no_grad():  # stands for training
    ...     for p in model.parameters():
    ...         _ = p.add_(0.1 * torch.randn_like(p))
    >>> record = alignment_per_layer(model, torch.randn(16, 4), ["0", "2"],
    ...                              init_state=init)
    >>> sorted(record["0"])
    ['cnfa', 'nfa']
    """
    names = _as_layer_names(layers)
    kernels, _, n_samples = tangent_kernels(model, X, names, batch_size)
    return {
        name: _alignment_from_kernel(
            find_layer(model, name),
            name,
            kernels[name],
            power=power,
            init_state=init_state,
            correlation=correlation,
        )
        for name in names
    }
