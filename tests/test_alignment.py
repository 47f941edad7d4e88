"""AGOP, tangent kernel, NFM and (centred) NFA against naive float64 autograd loops."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from skfeat.torch import (  # noqa: E402
    agop,
    alignment_per_layer,
    neural_feature_matrix,
    nfa_correlation,
    tangent_kernel,
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


def _mlp(inplace=False, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(5, 7),
        torch.nn.ReLU(inplace=inplace),
        torch.nn.Linear(7, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 3),
    ).double()


class _CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(3, 4, 2, stride=2)
        self.head = torch.nn.Linear(4 * 3 * 3, 2)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = F.softplus(self.conv2(x))
        return self.head(x.flatten(1))


def _cnn(seed=0):
    torch.manual_seed(seed)
    return _CNN().double()


def _data(shape, n=9, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=generator).double()


def _naive_output_gradients(model, X, layer):
    """Per sample, per output: gradient of f_c(x_i) w.r.t. the layer's output.

    One sample at a time through the model (batch of 1), the layer's output
    replaced by a leaf: a deliberately slow, obviously correct loop.
    """
    module = dict(model.named_modules())[layer]
    leaf = {}

    def hook(mod, inputs, output):
        leaf["h"] = output.detach().clone().requires_grad_(True)
        return leaf["h"]

    handle = module.register_forward_hook(hook)
    grads = []
    try:
        for i in range(X.shape[0]):
            out = model(X[i : i + 1]).reshape(-1)
            for c in range(out.shape[0]):
                (g,) = torch.autograd.grad(out[c], leaf["h"], retain_graph=True)
                grads.append(g[0])
    finally:
        handle.remove()
    return grads


def _naive_kernel(model, X, layer):
    kernel = 0
    for g in _naive_output_gradients(model, X, layer):
        rows = g.reshape(g.shape[0], -1).T if g.ndim > 1 else g[None, :]
        kernel = kernel + rows.T @ rows
    return kernel.numpy()


def _naive_agop(model, X, layer):
    """Sum of outer products of the gradients w.r.t. the layer input (patches).

    Linear: the input itself.  Conv2d: the layer recomputed from unfolded
    patches, which are the leaf, so each patch is differentiated separately.
    """
    module = dict(model.named_modules())[layer]
    leaf = {}

    def hook(mod, inputs, output):
        x = inputs[0]
        if isinstance(mod, torch.nn.Linear):
            leaf["a"] = x.detach().clone().requires_grad_(True)
            return F.linear(leaf["a"], mod.weight, mod.bias)
        patches = F.unfold(x, mod.kernel_size, padding=mod.padding, stride=mod.stride)
        leaf["a"] = patches.detach().clone().requires_grad_(True)
        w = mod.weight.reshape(mod.weight.shape[0], -1)
        out = w @ leaf["a"] + mod.bias[:, None]
        return out.reshape(output.shape)

    handle = module.register_forward_hook(hook)
    total = 0
    try:
        for i in range(X.shape[0]):
            out = model(X[i : i + 1]).reshape(-1)
            for c in range(out.shape[0]):
                (g,) = torch.autograd.grad(out[c], leaf["a"], retain_graph=True)
                rows = g[0] if isinstance(module, torch.nn.Linear) else g[0].T
                rows = rows.reshape(-1, rows.shape[-1])
                total = total + rows.T @ rows
    finally:
        handle.remove()
    return total.numpy()


def _naive_pearson(A, B):
    return np.corrcoef(np.ravel(A), np.ravel(B))[0, 1]


def _weight(model, layer):
    w = dict(model.named_modules())[layer].weight.detach().double().clone()
    return w.reshape(w.shape[0], -1).numpy()


CASES = [
    pytest.param(_mlp, (5,), "0", id="mlp-first"),
    pytest.param(_mlp, (5,), "2", id="mlp-hidden"),
    pytest.param(_mlp, (5,), "4", id="mlp-readout"),
    pytest.param(_cnn, (2, 6, 6), "conv1", id="cnn-conv1"),
    pytest.param(_cnn, (2, 6, 6), "conv2", id="cnn-conv2"),
    pytest.param(_cnn, (2, 6, 6), "head", id="cnn-head"),
]


@pytest.mark.parametrize("make, shape, layer", CASES)
def test_kernel_and_agop_match_naive_loops(make, shape, layer):
    model, X = make(), _data(shape)
    # batch_size 4 does not divide n = 9: a partial last batch is covered.
    K = tangent_kernel(model, X, layer, batch_size=4)
    G = agop(model, X, layer, batch_size=4)
    assert K.dtype == np.float64 and G.dtype == np.float64
    tol = {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(K, _naive_kernel(model, X, layer), **tol)
    np.testing.assert_allclose(G, _naive_agop(model, X, layer), **tol)
    W = _weight(model, layer)
    np.testing.assert_allclose(G, W.T @ K @ W, **tol)


def test_conv1d_equals_the_same_conv2d():
    # Conv1d(k) on (n, c, L) is Conv2d((1, k)) on (n, c, 1, L): same patches,
    # same weight matrix, so the same K and AGOP.
    torch.manual_seed(0)
    conv1 = torch.nn.Conv1d(2, 3, 3, padding=1).double()
    conv2 = torch.nn.Conv2d(2, 3, (1, 3), padding=(0, 1)).double()
    with torch.no_grad():
        conv2.weight.copy_(conv1.weight[:, :, None, :])
        conv2.bias.copy_(conv1.bias)
    model1 = torch.nn.Sequential(conv1, torch.nn.Tanh(), torch.nn.Flatten(1))
    model2 = torch.nn.Sequential(conv2, torch.nn.Tanh(), torch.nn.Flatten(1))
    X = _data((2, 5))
    np.testing.assert_allclose(
        agop(model1, X, "0"), agop(model2, X[:, :, None, :], "0"), rtol=1e-12
    )
    np.testing.assert_allclose(
        agop(model2, X[:, :, None, :], "0"), _naive_agop(model2, X[:, :, None, :], "0")
    )


def test_linear_model_closed_form():
    # f(x) = V x: grad_a f_c = V[c], so G = n V^T V and K = n I.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).double()
    X = _data((4,), n=11)
    V = _weight(model, "0")
    np.testing.assert_allclose(agop(model, X, "0"), 11 * V.T @ V, rtol=1e-12)
    K = tangent_kernel(model, X, "0")
    np.testing.assert_allclose(K, 11 * np.eye(3), rtol=1e-12)


def test_sample_permutation_and_batch_size_invariance():
    model, X = _mlp(), _data((5,), n=13)
    G = agop(model, X, "2", batch_size=13)
    perm = torch.randperm(13, generator=torch.Generator().manual_seed(3))
    np.testing.assert_allclose(agop(model, X[perm], "2", batch_size=2), G, rtol=1e-10)
    np.testing.assert_allclose(agop(model, X.numpy(), "2", batch_size=5), G, rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 10),
    batch_size=st.integers(1, 12),
    scale=st.floats(0.1, 10.0),
    seed=st.integers(0, 2**16),
)
def test_batching_and_readout_scaling_properties(n, batch_size, scale, seed):
    # Batching never changes the sums; scaling the read-out by s scales every
    # gradient by s, so K and G by s^2, and leaves the NFA unchanged.
    model, X = _mlp(seed=seed), _data((5,), n=n, seed=seed + 1)
    K = tangent_kernel(model, X, "2", batch_size=n)
    G = agop(model, X, "2", batch_size=batch_size)
    W = _weight(model, "2")
    np.testing.assert_allclose(G, W.T @ K @ W, rtol=1e-9, atol=1e-12)
    nfa = nfa_correlation(model, X, "2")
    with torch.no_grad():
        model[4].weight.mul_(scale)
        model[4].bias.mul_(scale)
    K_scaled = tangent_kernel(model, X, "2", batch_size=batch_size)
    np.testing.assert_allclose(K_scaled, scale**2 * K, rtol=1e-9, atol=1e-12)
    assert nfa_correlation(model, X, "2") == pytest.approx(nfa, rel=1e-8, abs=1e-10)


def test_inplace_relu_frozen_weights_and_float32():
    X = _data((5,))
    reference = tangent_kernel(_mlp(), X, "0")
    # In-place ReLU right after the layer must not change its gradient.
    np.testing.assert_allclose(tangent_kernel(_mlp(inplace=True), X, "0"), reference)
    frozen = _mlp()
    frozen.requires_grad_(False)
    np.testing.assert_allclose(tangent_kernel(frozen, X, "0"), reference)
    assert not any(p.requires_grad for p in frozen.parameters())
    # A float32 model: numpy float64 inputs are cast to it, the result is float64.
    K32 = tangent_kernel(_mlp().float(), X.numpy(), "0")
    assert K32.dtype == np.float64
    np.testing.assert_allclose(K32, reference, rtol=1e-4)


def test_eval_mode_used_and_mode_restored():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 6),
        torch.nn.BatchNorm1d(6),
        torch.nn.Dropout(0.5),
        torch.nn.ReLU(),
        torch.nn.Linear(6, 2),
    ).double()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    model.train()
    X = _data((5,))
    K = tangent_kernel(model, X, "0", batch_size=3)
    assert all(m.training for m in model.modules())
    model.eval()
    np.testing.assert_allclose(K, _naive_kernel(model, X, "0"), rtol=1e-10)
    assert not any(m._forward_hooks for m in model.modules())


def test_neural_feature_matrix():
    model = _cnn()
    W = _weight(model, "conv2")
    np.testing.assert_allclose(neural_feature_matrix(model, "conv2"), W.T @ W)
    np.testing.assert_allclose(neural_feature_matrix(model.conv2), W.T @ W)
    assert neural_feature_matrix(model.conv2).shape == (3 * 2 * 2, 3 * 2 * 2)


@pytest.mark.parametrize("make, shape, layer", [CASES[1], CASES[3]])
def test_nfa_matches_naive_formulas(make, shape, layer):
    model, X = make(), _data(shape)
    W = _weight(model, layer)
    G = _naive_agop(model, X, layer)
    expected = _naive_pearson(W.T @ W, G)
    assert nfa_correlation(model, X, layer) == pytest.approx(expected, rel=1e-10)
    a, b = np.ravel(W.T @ W), np.ravel(G)
    cosine = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert nfa_correlation(model, X, layer, correlation="cosine") == pytest.approx(
        cosine, rel=1e-10
    )


def test_square_root_variant():
    model, X = _mlp(), _data((5,))
    W, G = _weight(model, "2"), _naive_agop(model, X, "2")
    root = np.real(scipy.linalg.sqrtm(G))  # G is full rank here (27 gradients, d=7)
    np.testing.assert_allclose(root @ root, G, rtol=1e-8)
    assert nfa_correlation(model, X, "2", power=0.5) == pytest.approx(
        _naive_pearson(W.T @ W, root), rel=1e-8
    )


def test_centred_nfa_matches_naive_formula():
    model, X = _mlp(), _data((5,))
    init = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    dW = _weight(model, "2") - init["2.weight"].numpy()
    K = _naive_kernel(model, X, "2")
    expected = _naive_pearson(dW.T @ K @ dW, dW.T @ dW)
    got = nfa_correlation(model, X, "2", init_state=init, centered=True)
    assert got == pytest.approx(expected, rel=1e-10)
    record = alignment_per_layer(model, X, ["0", "2"], init_state=init, batch_size=4)
    assert record["2"]["cnfa"] == pytest.approx(expected, rel=1e-10)
    nfa_first = nfa_correlation(model, X, "0")
    assert record["0"]["nfa"] == pytest.approx(nfa_first, rel=1e-12)
    assert list(record) == ["0", "2"]


def test_centred_nfa_at_initialisation_is_zero_with_warning():
    model, X = _mlp(), _data((5,))
    init = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="constant"):
        rho = nfa_correlation(model, X, "0", init_state=init, centered=True)
    assert rho == 0.0


def test_orthogonal_rotation_of_inputs():
    # Rotating the input and the first weight together leaves f unchanged;
    # the AGOP and W^T W rotate, their entrywise correlation is not invariant,
    # but G' = Q^T G Q exactly.
    model, X = _mlp(), _data((5,))
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    rotated = _mlp()
    with torch.no_grad():
        rotated[0].weight.copy_(rotated[0].weight @ torch.from_numpy(Q))
    G = agop(model, X, "0")
    G_rot = agop(rotated, X @ torch.from_numpy(Q), "0")
    np.testing.assert_allclose(G_rot, Q.T @ G @ Q, atol=1e-10)


def test_nfa_rises_with_training_on_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X[:600] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[:600])
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )
    init = {k: v.clone() for k, v in model.state_dict().items()}
    fresh = alignment_per_layer(model, X[:300], ["0", "2"])
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(15):
        for start in range(0, 600, 50):
            opt.zero_grad()
            batch = slice(start, start + 50)
            F.cross_entropy(model(X[batch]), y[batch]).backward()
            opt.step()
    assert (model(X).argmax(1) == y).float().mean() > 0.8
    trained = alignment_per_layer(model, X[:300], ["0", "2"], init_state=init)
    for layer in ["0", "2"]:
        # Seen here (seed 0): 0.61 -> 0.93 (first layer), 0.57 -> 0.93 (second),
        # C-NFA 0.94 and 0.95: the rise the NFA papers report.
        assert trained[layer]["nfa"] > fresh[layer]["nfa"] + 0.1
        assert trained[layer]["cnfa"] > 0.5


def test_errors_are_clear():
    model, X = _mlp(), _data((5,))
    with pytest.raises(ValueError, match=r"No layer named '2x'.*Did you mean"):
        agop(model, X, "2x")
    with pytest.raises(TypeError, match="ReLU"):
        agop(model, X, "1")
    with pytest.raises(ValueError, match="NaN"):
        X_bad = X.clone()
        X_bad[4, 1] = float("nan")
        agop(model, X_bad, "0", batch_size=2)
    with pytest.raises(ValueError, match="no samples"):
        agop(model, X[:0], "0")
    with pytest.raises(ValueError, match="wrong number of features"):
        agop(model, _data((4,)), "0")
    with pytest.raises(TypeError, match="real numbers"):
        agop(model, np.array([["a"] * 5]), "0")
    with pytest.raises(ValueError, match="init_state"):
        nfa_correlation(model, X, "0", centered=True)
    with pytest.raises(ValueError, match="'0.weight'"):
        nfa_correlation(model, X, "0", centered=True, init_state={})
    with pytest.raises(ValueError, match="batch_size"):
        agop(model, X, "0", batch_size=0)
    # A tuple output is read by the extractor's rule: its first tensor.
    tuple_model = _TupleModel()
    np.testing.assert_allclose(
        agop(tuple_model, X, "inner.0"), agop(tuple_model.inner, X, "0")
    )
    with pytest.raises(TypeError, match="grouped"):
        agop(torch.nn.Conv2d(2, 2, 1, groups=2), _data((2, 3, 3)), "")
    # No hook is left behind, the mode is kept, the input is not modified.
    X_copy = X.clone()
    with pytest.raises(ValueError):
        agop(model, X_bad, "0", batch_size=2)
    assert not any(m._forward_hooks for m in model.modules())
    assert all(m.training for m in model.modules())
    assert torch.equal(X, X_copy)


class _TupleModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = _mlp()

    def forward(self, x):
        return self.inner(x), x


def test_shared_layer_is_rejected():
    lin = torch.nn.Linear(3, 3).double()
    model = torch.nn.Sequential(lin, torch.nn.Tanh(), lin)
    with pytest.raises(ValueError, match="more than once"):
        agop(model, _data((3,)), "0")
    assert not lin._forward_hooks


def test_inputs_without_a_sample_axis_are_rejected():
    """Regression: a single unbatched input (shape (5,)) ran through the model,
    its 3 outputs were read as 3 samples, and a wrong kernel came back."""
    model = _mlp()
    with pytest.raises(ValueError, match="samples axis"):
        tangent_kernel(model, torch.ones(5, dtype=torch.float64), "0")
    with pytest.raises(ValueError, match="samples axis"):
        alignment_per_layer(model, torch.ones(5, dtype=torch.float64), ["0", "2"])
