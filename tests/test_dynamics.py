"""Weight Gram, virtual covariance, Feature Learning Equation (spec section 7)."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skfeat.torch import (  # noqa: E402
    VirtualCovariance,
    agop,
    feature_learning_equation,
    neural_feature_matrix,
    weight_gram,
)

F = torch.nn.functional


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Tiny tensors: on a shared, oversubscribed machine two intra-op threads
    # make torch tens of times slower than one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 5),
        torch.nn.ReLU(),
        torch.nn.Linear(5, 2),
    ).double()


class _CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1, stride=2)
        self.head = torch.nn.Linear(3 * 3 * 3, 2)

    def forward(self, x):
        return self.head(torch.tanh(self.conv(x)).flatten(1))


def _cnn(seed=0):
    torch.manual_seed(seed)
    return _CNN().double()


class Conv1D(torch.nn.Module):
    """transformers' GPT-2 projection: ``x @ W + b`` with ``W`` stored (in, out)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = torch.nn.Parameter(torch.randn(nx, nf) / nx**0.5)
        self.bias = torch.nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return x @ self.weight + self.bias


def _conv1d_mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(Conv1D(6, 4), torch.nn.Tanh(), Conv1D(2, 6)).double()


def _batch(shape, n=7, seed=1):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn((n, *shape), generator=generator).double()
    y = torch.randn((n, 2), generator=generator).double()
    return X, y


def _weight(model, layer):
    module = dict(model.named_modules())[layer]
    w = module.weight.detach().double().clone()
    if isinstance(module, Conv1D):
        w = w.T  # stored (in, out)
    return w.reshape(w.shape[0], -1).numpy()


def _naive_layer_gradients(model, X, y, layer):
    """Rows x_i (inputs / patches), grad_{x_i} L through the layer, g_i = grad_h L.

    The layer is recomputed from a fresh leaf input (unfolded patches for a
    convolution), so grad_x comes from autograd, not from W^T g.
    """
    module = dict(model.named_modules())[layer]
    kept = {}

    def hook(mod, inputs, output):
        x = inputs[0]
        if isinstance(mod, torch.nn.Linear):
            kept["x"] = x.detach().clone().requires_grad_(True)
            kept["h"] = F.linear(kept["x"], mod.weight, mod.bias)
        elif isinstance(mod, Conv1D):
            kept["x"] = x.detach().clone().requires_grad_(True)
            kept["h"] = kept["x"] @ mod.weight + mod.bias
        else:
            patches = F.unfold(
                x, mod.kernel_size, padding=mod.padding, stride=mod.stride
            )
            kept["x"] = patches.detach().clone().requires_grad_(True)
            w = mod.weight.reshape(mod.weight.shape[0], -1)
            kept["h"] = (w @ kept["x"] + mod.bias[:, None]).reshape(output.shape)
        return kept["h"]

    handle = module.register_forward_hook(hook)
    try:
        loss = F.mse_loss(model(X), y)
        grad_x, grad_h = torch.autograd.grad(loss, [kept["x"], kept["h"]])
    finally:
        handle.remove()
    x, h = kept["x"].detach(), kept["h"]
    if isinstance(module, torch.nn.Conv2d):
        # (n, d_in, positions) -> rows; (n, d_out, oh, ow) -> rows
        to_rows = lambda t: t.transpose(1, 2).reshape(-1, t.shape[1])  # noqa: E731
        return (
            to_rows(x).numpy(),
            to_rows(grad_x).numpy(),
            to_rows(grad_h.flatten(2)).numpy(),
        )
    assert h.shape == grad_h.shape
    return x.numpy(), grad_x.numpy(), grad_h.numpy()


def _sgd_step(model, X, y, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    opt.zero_grad()
    F.mse_loss(model(X), y).backward()
    opt.step()


@pytest.mark.parametrize(
    "make, shape, layers",
    [
        pytest.param(_mlp, (4,), ["0", "2", "4"], id="mlp"),
        pytest.param(_cnn, (2, 6, 6), ["conv", "head"], id="cnn"),
        pytest.param(_conv1d_mlp, (4,), ["0", "2"], id="gpt2-conv1d"),
    ],
)
def test_one_sgd_step_identity_is_exact(make, shape, layers):
    lr = 0.7  # large, so that the second-order term is far from rounding
    model, (X, y) = make(), _batch(shape)
    before = {name: _weight(model, name) for name in layers}
    naive = {name: _naive_layer_gradients(model, X, y, name) for name in layers}
    with VirtualCovariance(model, layers, lr=lr) as vc:
        _sgd_step(model, X, y, lr)
    for name in layers:
        x, grad_x, g = naive[name]
        x_moved = x - lr * grad_x
        vc_naive = x_moved.T @ x_moved - x.T @ x
        got = vc.covariances_[name]
        scale = np.abs(vc_naive).max()
        np.testing.assert_allclose(got, vc_naive, rtol=0, atol=1e-12 * scale)
        W, W_new = before[name], _weight(model, name)
        change = W_new.T @ W_new - W.T @ W
        second_order = lr**2 * (x.T @ g @ g.T @ x - W.T @ g.T @ g @ W)
        assert np.abs(second_order).max() > 1e-3 * np.abs(change).max()
        np.testing.assert_allclose(
            change - got, second_order, rtol=0, atol=1e-11 * np.abs(change).max()
        )
        np.testing.assert_allclose(vc.initial_grams_[name], W.T @ W, rtol=1e-14)
        np.testing.assert_allclose(vc.final_grams_[name], W_new.T @ W_new, rtol=1e-14)
        assert vc.n_backward_[name] == 1


def test_feature_learning_equation_over_a_run():
    model, (X, y) = _mlp(), _batch((4,), n=32)
    lr = 1e-2
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    start = _weight(model, "2")
    with VirtualCovariance(model, ["2"], lr=lr) as vc:
        for step in range(30):
            batch = slice(step % 4 * 8, step % 4 * 8 + 8)
            opt.zero_grad()
            F.mse_loss(model(X[batch]), y[batch]).backward()
            opt.step()
            with torch.no_grad():  # evaluation passes are not recorded
                model(X)
            # nor are skfeat's own backwards (AGOP per output unit)
            agop(model, X, "2")
    end = _weight(model, "2")
    change = end.T @ end - start.T @ start
    vc_sum = vc.covariances_["2"]
    result = feature_learning_equation(vc)["2"]
    assert vc.n_backward_["2"] == 30
    assert result["correlation"] == pytest.approx(
        np.corrcoef(change.ravel(), vc_sum.ravel())[0, 1], rel=1e-10
    )
    assert result["relative_error"] == pytest.approx(
        np.linalg.norm(change - vc_sum) / np.linalg.norm(change), rel=1e-8
    )
    # Second order in lr: small against the change itself.
    assert result["correlation"] > 0.999
    assert result["relative_error"] < 0.05


def test_optimizer_learning_rate_is_followed():
    model, (X, y) = _mlp(), _batch((4,))
    reference = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    with VirtualCovariance(model, "0", lr=opt) as vc:
        for lr in (0.3, 0.05):
            opt.param_groups[0]["lr"] = lr  # what a scheduler does
            opt.zero_grad()
            F.mse_loss(model(X), y).backward()
            opt.step()
    expected = 0
    for lr in (0.3, 0.05):
        with VirtualCovariance(reference, "0", lr=lr) as step:
            _sgd_step(reference, X, y, lr)
        expected = expected + step.covariances_["0"]
    np.testing.assert_allclose(vc.covariances_["0"], expected, rtol=1e-12)


def test_hooks_removed_on_error_and_float32():
    model = _mlp().float()
    X, y = _batch((4,))
    with pytest.raises(RuntimeError, match="boom"):
        with VirtualCovariance(model, ["0", "2"], lr=0.1) as vc:
            _sgd_step(model, X.float(), y.float(), 0.1)
            raise RuntimeError("boom")
    assert not any(m._forward_hooks for m in model.modules())
    assert vc.covariances_["0"].dtype == np.float64
    # Training on after recording adds nothing.
    recorded = vc.covariances_["0"]
    _sgd_step(model, X.float(), y.float(), 0.1)
    np.testing.assert_array_equal(vc.covariances_["0"], recorded)
    model64 = _mlp()
    with VirtualCovariance(model64, ["0"], lr=0.1) as vc64:
        _sgd_step(model64, X, y, 0.1)
    np.testing.assert_allclose(recorded, vc64.covariances_["0"], rtol=1e-4, atol=1e-6)


def test_weight_gram():
    model = _cnn()
    W = _weight(model, "conv")
    np.testing.assert_allclose(weight_gram(model, "conv"), W.T @ W, rtol=1e-14)
    np.testing.assert_array_equal(
        weight_gram(model.conv), neural_feature_matrix(model, "conv")
    )


def test_errors_are_clear():
    model = _mlp()
    with pytest.raises(ValueError, match=r"No layer named '00'.*Did you mean"):
        VirtualCovariance(model, "00", lr=0.1).start()
    with pytest.raises(TypeError, match="Tanh"):
        VirtualCovariance(model, ["1"], lr=0.1).start()
    for bad in (0.0, -1.0, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="lr"):
            VirtualCovariance(model, "0", lr=bad).start()
    other = torch.optim.SGD(_mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="optimizer"):
        VirtualCovariance(model, "0", lr=other).start()
    with pytest.raises(ValueError, match="twice"):
        VirtualCovariance(model, ["0", "0"], lr=0.1).start()
    with pytest.raises(AttributeError, match="recording has started"):
        VirtualCovariance(model, "0", lr=0.1).covariances_  # noqa: B018
    with pytest.raises(ValueError, match="not been started"):
        feature_learning_equation(VirtualCovariance(model, "0", lr=0.1))
    with pytest.raises(TypeError, match="padding"):
        conv = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")
        VirtualCovariance(conv, "", lr=0.1).start()
    assert not any(m._forward_hooks for m in model.modules())
