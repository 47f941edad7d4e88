"""Weight Gram, virtual covariance and the Feature Learning Equation (spec section 7).

A plain SGD step ``W <- W - lr * Gr^T X`` on a layer with inputs ``x_i`` (rows
of ``X``) and pre-activation gradients ``g_i = grad_{h_i} L`` (rows of ``Gr``)
changes the weight Gram by

``d(W^T W) = sum_i (xt_i xt_i^T - x_i x_i^T) + lr^2 (X^T Gr Gr^T X - W^T Gr^T Gr W)``

with ``xt_i = x_i - lr * W^T g_i``, the input moved one step along the gradient
that reaches it through this layer (the spec writes ``X`` and ``Gr`` with samples
as columns).  :class:`VirtualCovariance` accumulates ``VC = sum (xt xt^T - x x^T)``
over a user's own training steps from hooks; :func:`feature_learning_equation`
compares it with the change of ``W^T W`` over the same run.

The sum is expanded as ``-lr (X^T D + D^T X) + lr^2 D^T D`` with
``D = Gr W`` (rows ``W^T g_i``) rather than formed as a difference of two large
outer products, which would cancel most of their digits.
"""

import math
from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import validate_params

from ._alignment import (
    _as_layer_names,
    _positions_by_features,
    _to_numpy,
    find_layer,
    is_measuring,
    matrix_correlation,
    neural_feature_matrix,
    weight_matrix,
)
from ._layers import is_linear_like

__all__ = ["VirtualCovariance", "feature_learning_equation", "weight_gram"]


@validate_params(
    {"model": [torch.nn.Module], "layer": [str, None]},
    prefer_skip_nested_validation=True,
)
def weight_gram(model, layer=None):
    """Weight Gram matrix ``W_l^T W_l`` of a Linear / Conv layer.

    The same matrix as :func:`neural_feature_matrix` (the neural feature
    matrix of the NFA literature); Cha et al. read it as the covariance the
    layer imposes on its inputs.

    Parameters
    ----------
    model : torch.nn.Module
        The layer itself (``layer=None``) or a network containing it.
    layer : str, default=None
        Name of the layer in ``model.named_modules()``.

    Returns
    -------
    gram : ndarray of shape (d_in, d_in)
        ``W^T W`` in float64 (convolutions: unfolded-patch form).

    References
    ----------
    .. [1] Cha, Beaglehole, Radhakrishnan, Lee. "The weight Gram matrix captures
       sequential feature linearization in deep networks".

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import weight_gram
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False))
    >>> with torch.no_grad():
    ...     _ = model[0].weight.copy_(torch.eye(2))
    >>> weight_gram(model, "0")
    array([[1., 0.],
           [0., 1.]])
    """
    return neural_feature_matrix(model, layer)


def _patches(inputs, module):
    """Layer inputs as rows: samples (x positions) by ``d_in``."""
    if is_linear_like(module):
        return inputs.reshape(-1, inputs.shape[-1])
    # Conv2d: the columns of unfold are the patches the weight matrix acts on.
    patches = torch.nn.functional.unfold(
        inputs,
        module.kernel_size,
        dilation=module.dilation,
        padding=module.padding,
        stride=module.stride,
    )
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])


class VirtualCovariance:
    """Record the virtual covariance of layers over a user's training steps.

    Used as a context manager around the training loop; every backward pass
    through a recorded layer adds

    ``VC_l += sum_i (xt_i xt_i^T - x_i x_i^T)``,  ``xt_i = x_i - lr W_l^T g_i``

    where ``x_i`` is the layer's input, ``g_i = grad_{h_i} L_batch`` the
    gradient of the batch loss with respect to its pre-activation and
    ``W_l^T g_i`` the gradient that reaches ``x_i`` through the layer (spec
    section 7).  Convolutions use unfolded patches (each patch is an ``x_i``).
    For plain SGD (no momentum, no weight decay) the change of the weight
    Gram over one step is ``VC_step`` plus the second-order term of
    :func:`feature_learning_equation`.

    With momentum, weight decay or adaptive optimizers ``VC`` is still the sum
    above, but the weight change has further terms: the equation then holds
    only approximately.  A convolution keeps its unfolded input (``kh * kw``
    times the input's size) from the forward pass until the backward.

    Forward passes without gradient (evaluation under ``torch.no_grad()``)
    and skfeat's own measurement passes (:func:`agop`,
    :func:`alignment_per_layer`, ... called inside the block) are ignored.
    Every other backward through a recorded layer counts, with the weight the
    forward pass used (gradient accumulation over several backwards before
    one ``optimizer.step()`` is fine: the weight is unchanged between them).

    Parameters
    ----------
    model : torch.nn.Module
        The network being trained.
    layers : str or list of str
        Names of ``nn.Linear`` / ``nn.Conv2d`` layers in
        ``model.named_modules()``.
    lr : float or torch.optim.Optimizer
        The learning rate ``gamma``; given an optimizer, the current ``lr`` of
        the parameter group holding each layer's weight is read at every
        backward pass (so schedulers are followed).

    Attributes
    ----------
    covariances_ : dict of str to ndarray of shape (d_in, d_in)
        Accumulated ``VC_l`` per layer, float64.
    initial_grams_ : dict of str to ndarray of shape (d_in, d_in)
        ``W_l^T W_l`` when recording started.
    final_grams_ : dict of str to ndarray of shape (d_in, d_in)
        ``W_l^T W_l`` when recording stopped (absent while recording).
    n_backward_ : dict of str to int
        Backward passes recorded per layer.

    See Also
    --------
    feature_learning_equation : Compare ``VC`` with the change of ``W^T W``.

    References
    ----------
    .. [1] Cha, Beaglehole, Radhakrishnan, Lee. "The weight Gram matrix captures
       sequential feature linearization in deep networks".

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import VirtualCovariance, feature_learning_equation
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.05)
    >>> X, y = torch.randn(64, 3), torch.randn(64, 1)
    >>> with VirtualCovariance(model, ["0", "2"], lr=opt) as vc:
    ...     for _ in range(20):
    ...         opt.zero_grad()
    ...         torch.nn.functional.mse_loss(model(X), y).backward()
    ...         opt.step()
    >>> vc.covariances_["0"].shape, vc.n_backward_["0"]
    ((3, 3), 20)
    >>> feature_learning_equation(vc)["0"]["correlation"] > 0.9
    True
    """

    def __init__(self, model, layers, lr):
        self.model = model
        self.layers = layers
        self.lr = lr

    def _validate(self):
        if not isinstance(self.model, torch.nn.Module):
            raise TypeError(
                f"model must be a torch.nn.Module; got {type(self.model).__name__}."
            )
        names = _as_layer_names(self.layers)
        modules = {}
        for name in names:
            module = find_layer(self.model, name)
            if not (is_linear_like(module) or isinstance(module, torch.nn.Conv2d)):
                raise TypeError(
                    f"Layer {name!r} is a {type(module).__name__}; the virtual "
                    "covariance is recorded for Linear (or transformers' Conv1D) "
                    "and Conv2d layers."
                )
            if isinstance(module, torch.nn.Conv2d) and (
                module.padding_mode != "zeros" or isinstance(module.padding, str)
            ):
                raise TypeError(
                    f"Layer {name!r} pads with mode {module.padding_mode!r} / "
                    f"{module.padding!r}; only explicit zero padding unfolds."
                )
            modules[name] = module
        if isinstance(self.lr, torch.optim.Optimizer):
            for name, module in modules.items():
                self._group_lr(module)
        elif (
            not isinstance(self.lr, Real)
            or isinstance(self.lr, bool)
            or not math.isfinite(self.lr)
            or self.lr <= 0
        ):
            raise ValueError(
                f"lr must be a positive finite float or an optimizer; got {self.lr!r}."
            )
        return modules

    def _group_lr(self, module):
        if not isinstance(self.lr, torch.optim.Optimizer):
            return float(self.lr)
        for group in self.lr.param_groups:
            if any(p is module.weight for p in group["params"]):
                return float(group["lr"])
        raise ValueError("The optimizer does not train the recorded layer's weight.")

    def start(self):
        """Start recording: snapshot ``W^T W`` and register the hooks.

        Returns
        -------
        self : VirtualCovariance
            The recorder.
        """
        modules = self._validate()
        self._modules = modules
        self._sums = {
            name: torch.zeros(
                2 * (weight_matrix(m).shape[1],),
                dtype=torch.float64,
                device=m.weight.device,
            )
            for name, m in modules.items()
        }
        self.initial_grams_ = {
            name: neural_feature_matrix(m) for name, m in modules.items()
        }
        self.n_backward_ = dict.fromkeys(modules, 0)
        self.__dict__.pop("final_grams_", None)
        self._handles = [
            module.register_forward_hook(self._forward_hook(name))
            for name, module in modules.items()
        ]
        return self

    def stop(self):
        """Stop recording: remove the hooks and snapshot ``W^T W``.

        Returns
        -------
        self : VirtualCovariance
            The recorder.
        """
        for handle in getattr(self, "_handles", []):
            handle.remove()
        self._handles = []
        if hasattr(self, "_modules"):
            self.final_grams_ = {
                name: neural_feature_matrix(m) for name, m in self._modules.items()
            }
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        return False

    @property
    def covariances_(self):
        """Accumulated virtual covariance per layer (float64 numpy arrays)."""
        if not hasattr(self, "_sums"):
            raise AttributeError(
                "covariances_ exists once recording has started "
                "(use `with VirtualCovariance(...) as vc:` or vc.start())."
            )
        return {name: _to_numpy(total) for name, total in self._sums.items()}

    def _forward_hook(self, name):
        def hook(module, inputs, output):
            if not (torch.is_grad_enabled() and output.requires_grad):
                return  # evaluation pass: no step follows
            if is_measuring():
                return  # skfeat's own AGOP backwards are not training steps
            x_rows = _patches(inputs[0].detach(), module)

            def on_gradient(grad):
                self._accumulate(name, module, x_rows, grad)

            output.register_hook(on_gradient)

        return hook

    def _accumulate(self, name, module, x_rows, grad):
        lr = self._group_lr(module)
        g_rows = _positions_by_features(grad.detach(), module)
        # Called during backward, before optimizer.step(): the weight is the
        # one the forward pass used.
        d_rows = g_rows @ weight_matrix(module).detach()
        cross = x_rows.T @ d_rows
        step = (lr * lr) * (d_rows.T @ d_rows) - lr * (cross + cross.T)
        self._sums[name] += step.to(torch.float64)
        self.n_backward_[name] += 1


@validate_params(
    {"recorder": [VirtualCovariance]},
    prefer_skip_nested_validation=True,
)
def feature_learning_equation(recorder):
    """Compare the recorded virtual covariance with the change of ``W^T W``.

    For every recorded layer, ``dG = W^T W (stop) - W^T W (start)`` (or
    *now* while still recording) against the accumulated ``VC``: the Feature
    Learning Equation of Cha et al. says they agree up to terms of order
    ``lr^2`` per step for plain SGD.

    Parameters
    ----------
    recorder : VirtualCovariance
        A recorder that has been started (and usually stopped).

    Returns
    -------
    comparison : dict
        ``{layer: {"correlation": float, "relative_error": float}}``: the
        Pearson correlation of the entries of ``VC`` and ``dG``, and
        ``||dG - VC||_F / ||dG||_F`` (inf when ``dG`` is zero but ``VC`` is
        not, 0 when both are zero).

    References
    ----------
    .. [1] Cha, Beaglehole, Radhakrishnan, Lee. "The weight Gram matrix captures
       sequential feature linearization in deep networks".

    Examples
    --------
    >>> import torch
    >>> from skfeat.torch import VirtualCovariance, feature_learning_equation
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    >>> opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    >>> X, y = torch.randn(32, 3), torch.randn(32, 2)
    >>> with VirtualCovariance(model, "0", lr=1e-3) as vc:
    ...     opt.zero_grad()
    ...     torch.nn.functional.mse_loss(model(X), y).backward()
    ...     opt.step()
    >>> feature_learning_equation(vc)["0"]["relative_error"] < 1e-2
    True
    """
    if not hasattr(recorder, "initial_grams_"):
        raise ValueError("The recorder has not been started.")
    final = getattr(recorder, "final_grams_", None)
    if final is None:
        final = {
            name: neural_feature_matrix(m) for name, m in recorder._modules.items()
        }
    covariances = recorder.covariances_
    result = {}
    for name, vc in covariances.items():
        change = final[name] - recorder.initial_grams_[name]
        change_norm = np.linalg.norm(change)
        residual = np.linalg.norm(change - vc)
        if change_norm > 0:
            relative = float(residual / change_norm)
        else:
            relative = 0.0 if residual == 0 else math.inf
        result[name] = {
            "correlation": matrix_correlation(vc, change),
            "relative_error": relative,
        }
    return result
