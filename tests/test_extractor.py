import gc
import pickle
import warnings
from itertools import chain

import numpy as np
import pytest
import scipy.sparse

torch = pytest.importorskip("torch")
nn = torch.nn

from sklearn.pipeline import make_pipeline  # noqa: E402

from skfeat import FeatureSpectrum  # noqa: E402
from skfeat.torch import FeatureExtractor  # noqa: E402


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(5, 7)
        self.act = nn.Tanh()
        self.head = nn.Linear(7, 3)

    def forward(self, x):
        return self.head(self.act(self.hidden(x)))


class CNN(nn.Module):
    """Named submodules, in-place ReLU after a conv, BatchNorm and Dropout."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv", nn.Conv2d(1, 4, 3, padding=1))
        self.features.add_module("bn", nn.BatchNorm2d(4))
        self.features.add_module("relu", nn.ReLU(inplace=True))
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * 6 * 6, 6)
        self.relu = nn.ReLU(inplace=True)
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        h = self.drop(self.features(x)).flatten(1)
        return self.out(self.relu(self.fc(h)))

    def manual(self, x):
        """Every intermediate, computed by hand in eval mode."""
        conv = self.features.conv(x)
        bn = self.features.bn
        normed = (conv - bn.running_mean[None, :, None, None]) / torch.sqrt(
            bn.running_var[None, :, None, None] + bn.eps
        ) * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
        act = torch.clamp(normed, min=0)
        fc = act.flatten(1) @ self.fc.weight.T + self.fc.bias
        penult = torch.clamp(fc, min=0)
        out = penult @ self.out.weight.T + self.out.bias
        return {"features.conv": conv, "fc": fc, "out:input": penult, "": out}


def _hooks(module):
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules()
    )


@pytest.fixture
def cnn():
    torch.manual_seed(0)
    net = CNN()
    # Non-trivial running statistics, then train mode as a user leaves it.
    with torch.no_grad():
        net.features.bn.running_mean.uniform_(-0.5, 0.5)
        net.features.bn.running_var.uniform_(0.5, 2.0)
    net.train()
    return net


@pytest.fixture
def images():
    return np.random.default_rng(0).normal(size=(37, 1, 6, 6)).astype(np.float32)


def test_mlp_default_layer_is_input_of_last_linear():
    torch.manual_seed(0)
    net = MLP()
    X = np.random.default_rng(1).normal(size=(23, 5))
    extractor = FeatureExtractor(net, batch_size=4).fit(X)
    assert extractor.layers_ == ["head:input"]
    Phi = extractor.transform(X)
    # float64 in, module dtype (float32) out; naive float64 reference.
    assert Phi.dtype == np.float32 and Phi.shape == (23, 7)
    W, b = net.hidden.weight.detach().double().numpy(), net.hidden.bias.detach()
    expected = np.tanh(X @ W.T + b.double().numpy())
    np.testing.assert_allclose(Phi, expected, rtol=1e-5, atol=1e-6)
    F = extractor.outputs(X)
    expected_F = expected @ net.head.weight.detach().double().numpy().T
    expected_F += net.head.bias.detach().double().numpy()
    np.testing.assert_allclose(F, expected_F, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(extractor.decision_function(X), F)
    assert extractor.n_features_out_ == 7 and extractor.output_shape_ == (3,)


@pytest.mark.parametrize("batch_size", [1, 5, 256])
def test_cnn_layers_equal_manual_forward_and_state_restored(cnn, images, batch_size):
    bn = cnn.features.bn
    stats = [t.clone() for t in (bn.running_mean, bn.running_var)]
    tracked = int(bn.num_batches_tracked)
    names = ["features.conv", "fc", "out:input", ""]
    extractor = FeatureExtractor(cnn, layers=names, batch_size=batch_size).fit(images)
    got = extractor.extract(images)
    with torch.no_grad():
        expected = cnn.manual(torch.from_numpy(images))
    for name in names:
        want = expected[name].reshape(len(images), -1).numpy()
        # The conv output is overwritten by the in-place ReLU after BatchNorm:
        # equality proves the copy was taken at hook time.
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-5)
    assert extractor.feature_shapes_["features.conv"] == (4, 6, 6)
    assert all(m.training for m in cnn.modules())
    assert _hooks(cnn) == 0
    torch.testing.assert_close(bn.running_mean, stats[0], rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, stats[1], rtol=0, atol=0)
    assert int(bn.num_batches_tracked) == tracked


def test_mixed_modes_restored_per_submodule(cnn, images):
    cnn.features.eval()
    modes = {name: m.training for name, m in cnn.named_modules()}
    FeatureExtractor(cnn).fit(images).transform(images)
    assert {name: m.training for name, m in cnn.named_modules()} == modes


def test_one_layer_from_extract_equals_transform(cnn, images):
    extractor = FeatureExtractor(cnn, layers="fc").fit(images)
    np.testing.assert_array_equal(
        extractor.transform(images), extractor.extract(images)["fc"]
    )


def test_tensor_dataset_and_dataloader_inputs(cnn, images):
    data = torch.utils.data
    X = torch.from_numpy(images)
    extractor = FeatureExtractor(cnn, batch_size=8).fit(images)
    expected = extractor.transform(images)
    labels = torch.zeros(len(X))
    for source in (
        X,
        data.TensorDataset(X, labels),
        data.DataLoader(data.TensorDataset(X, labels), batch_size=5),
        data.DataLoader(X, batch_size=6),
    ):
        np.testing.assert_allclose(extractor.transform(source), expected, atol=1e-6)


def test_iterable_dataset_of_unknown_length(cnn, images):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(torch.from_numpy(images))

    loader = torch.utils.data.DataLoader(Stream(), batch_size=10)
    extractor = FeatureExtractor(cnn).fit(images)
    np.testing.assert_allclose(
        extractor.transform(loader), extractor.transform(images), atol=1e-6
    )


def test_torch_output_stays_tensor(cnn, images):
    extractor = FeatureExtractor(cnn, array_type="torch").fit(images)
    Phi = extractor.transform(torch.from_numpy(images))
    assert isinstance(Phi, torch.Tensor) and Phi.device.type == "cpu"
    assert Phi.shape == (len(images), 6)


def test_dtype_parameter_runs_a_cast_copy_and_leaves_the_module_alone(images):
    torch.manual_seed(0)
    net = MLP()
    X = np.random.default_rng(1).normal(size=(9, 5))
    extractor = FeatureExtractor(net, dtype=torch.float64).fit(X)
    Phi = extractor.transform(X)
    assert Phi.dtype == np.float64
    # skorch's module_ pattern: the user's module is never cast or moved.
    assert net.hidden.weight.dtype == torch.float32
    assert extractor.module_ is not net
    assert extractor.module_.hidden.weight.dtype == torch.float64
    # Without a dtype or device to apply, module_ is the module itself.
    assert FeatureExtractor(net).fit(X).module_ is net


def test_wrong_input_shape_clear_error_no_leaked_hooks(cnn, images):
    extractor = FeatureExtractor(cnn).fit(images)
    with pytest.raises(ValueError, match=r"shape \(1, 5, 5\).*\(1, 6, 6\)"):
        extractor.transform(images[:, :, :5, :5])
    loader = torch.utils.data.DataLoader(torch.zeros(4, 1, 5, 5), batch_size=2)
    with pytest.raises(ValueError, match="shape"):
        extractor.transform(loader)
    assert _hooks(cnn) == 0
    assert all(m.training for m in cnn.modules())


def test_forward_error_removes_hooks_and_restores_mode():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = nn.Linear(3, 2)

        def forward(self, x):
            h = self.a(x)
            if len(x) > 2:
                raise RuntimeError("boom")
            return self.b(h)

    net = Broken().train()
    X = np.ones((5, 3), dtype=np.float32)
    extractor = FeatureExtractor(net, layers=["a", "b:input"]).fit(X)
    with pytest.raises(RuntimeError, match="boom"):
        extractor.extract(X)
    assert _hooks(net) == 0 and net.training


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.full((4, 5), np.nan), ValueError, "NaN"),
        (np.zeros((0, 5)), ValueError, "no samples"),
        (np.zeros(5), ValueError, "feature axis"),
        (np.zeros((4, 0)), ValueError, "0 feature"),
        (scipy.sparse.csr_matrix(np.ones((4, 5))), TypeError, "sparse"),
        (np.array([["a"] * 5] * 3), TypeError, "real numbers"),
        (torch.zeros(3, 5, dtype=torch.bool), TypeError, "real numbers"),
        ("not data", TypeError, "real numbers"),
    ],
)
def test_bad_input(X, error, match):
    with pytest.raises(error, match=match):
        FeatureExtractor(MLP()).fit(X)


def test_wrong_feature_count_after_fit():
    extractor = FeatureExtractor(MLP()).fit(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        extractor.transform(np.zeros((3, 4)))


def test_unknown_layer_lists_close_matches(cnn, images):
    with pytest.raises(ValueError, match=r"'features\.conv'"):
        FeatureExtractor(cnn, layers="features.cnv").fit(images)
    with pytest.raises(ValueError, match="no submodule"):
        FeatureExtractor(cnn, layers=["fc", "zzz:input"]).fit(images)
    with pytest.raises(ValueError, match="Linear"):
        FeatureExtractor(nn.Sequential(nn.ReLU())).fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="empty"):
        FeatureExtractor(cnn, layers=[]).fit(images)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="module"):
        FeatureExtractor("not a module").fit(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="batch_size"):
        FeatureExtractor(MLP(), batch_size=0).fit(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="floating"):
        FeatureExtractor(MLP(), dtype=torch.int64).fit(np.zeros((3, 5)))


def test_transform_needs_one_layer(cnn, images):
    extractor = FeatureExtractor(cnn, layers=["fc", "out:input"]).fit(images)
    with pytest.raises(ValueError, match="extract"):
        extractor.transform(images)


def test_input_not_mutated(cnn, images):
    copy = images.copy()
    FeatureExtractor(cnn, layers="features.relu").fit(images).transform(images)
    np.testing.assert_array_equal(images, copy)


def test_no_memory_growth_over_repeated_calls(cnn, images):
    extractor = FeatureExtractor(cnn, layers=["fc", "out:input"]).fit(images)

    def live_tensors():
        gc.collect()
        return sum(issubclass(type(o), torch.Tensor) for o in gc.get_objects())

    extractor.extract(images)
    before = live_tensors()
    for _ in range(5):
        extractor.extract(images)
        extractor.outputs(images)
    assert live_tensors() <= before
    assert _hooks(cnn) == 0


def test_pickle_round_trip(cnn, images):
    extractor = FeatureExtractor(cnn).fit(images)
    clone = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_array_equal(clone.transform(images), extractor.transform(images))


def test_verbose_progress_bar(cnn, images, capsys):
    FeatureExtractor(cnn, batch_size=10, verbose=True).fit(images).transform(images)
    assert "FeatureExtractor" in capsys.readouterr().err


def test_pipeline_with_spectrum_matches_manual(cnn, images):
    pipe = make_pipeline(FeatureExtractor(cnn), FeatureSpectrum())
    E = pipe.fit(images).transform(images)
    Phi = FeatureExtractor(cnn).fit(images).transform(images).astype(np.float64)
    # Independent reference: eigenvalues from a dense float64 SVD of Phi.
    s = np.linalg.svd(Phi, compute_uv=False)
    lam = pipe[-1].eigenvalues_
    np.testing.assert_allclose(lam, (s**2 / len(Phi))[: lam.size], rtol=1e-4)
    np.testing.assert_allclose(E.T @ E / len(E), np.eye(E.shape[1]), atol=1e-3)


def test_clone_gives_independent_module(cnn, images):
    from sklearn.base import clone

    extractor = FeatureExtractor(cnn, layers="fc", batch_size=7)
    copy = clone(extractor)
    assert copy.get_params()["batch_size"] == 7
    assert copy.module is not cnn
    np.testing.assert_allclose(
        copy.fit(images).transform(images),
        extractor.fit(images).transform(images),
        atol=1e-6,
    )


def test_torch_output_into_spectrum_with_array_api_dispatch(cnn, images):
    import sklearn

    pipe = make_pipeline(FeatureExtractor(cnn, array_type="torch"), FeatureSpectrum())
    with sklearn.config_context(array_api_dispatch=True):
        E = pipe.fit(torch.from_numpy(images)).transform(torch.from_numpy(images))
    assert isinstance(E, torch.Tensor) and E.dtype == torch.float32
    reference = make_pipeline(FeatureExtractor(cnn), FeatureSpectrum()).fit(images)
    np.testing.assert_allclose(
        pipe[-1].eigenvalues_.numpy(), reference[-1].eigenvalues_, rtol=1e-4
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_device_output_and_pickle(cnn, images):
    cpu = FeatureExtractor(copy_module(cnn)).fit(images).transform(images)
    extractor = FeatureExtractor(cnn, device="cuda", array_type="torch").fit(images)
    Phi = extractor.transform(images)
    assert Phi.device.type == "cuda"
    np.testing.assert_allclose(Phi.cpu().numpy(), cpu, rtol=1e-4, atol=1e-4)
    restored = pickle.loads(pickle.dumps(extractor))
    assert next(restored.module.parameters()).device.type == "cpu"
    assert restored.transform(images).device.type == "cuda"


def copy_module(module):
    import copy

    return copy.deepcopy(module)


def test_transform_leaves_fitted_state_and_readonly_input_alone():
    X = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    X.setflags(write=False)
    # torch warns about a read-only array once per process: both calls here.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extractor = FeatureExtractor(MLP()).fit(X)
        before = dict(extractor.__dict__)
        extractor.transform(X)
    assert extractor.__dict__.keys() == before.keys()
    assert all(extractor.__dict__[key] is value for key, value in before.items())


def _module_state(module):
    """Everything about a module that a call could change, comparable with ==."""
    tensors = {
        name: (t.detach().clone(), t.dtype, t.device, t.requires_grad)
        for name, t in chain(module.named_parameters(), module.named_buffers())
    }
    modes = {name: m.training for name, m in module.named_modules()}
    hooks = {
        name: (
            len(m._forward_hooks),
            len(m._forward_pre_hooks),
            len(getattr(m, "_forward_hooks_with_kwargs", {})),
            len(getattr(m, "_forward_pre_hooks_with_kwargs", {})),
        )
        for name, m in module.named_modules()
    }
    return tensors, modes, hooks


def _assert_same_state(before, after):
    tensors, modes, hooks = before
    tensors_after, modes_after, hooks_after = after
    assert modes == modes_after and hooks == hooks_after
    assert tensors.keys() == tensors_after.keys()
    for name, (value, dtype, device, grad) in tensors.items():
        value_after, dtype_after, device_after, grad_after = tensors_after[name]
        assert (dtype, device, grad) == (dtype_after, device_after, grad_after)
        assert torch.equal(value, value_after), name


@pytest.mark.parametrize(
    "params",
    [{}, {"dtype": torch.float64}, {"device": "cpu"}, {"layers": "all"}],
)
def test_fit_and_transform_never_change_the_module(cnn, images, params):
    """Issue 14: the module_ pattern; what check_estimators_overwrite_params
    means, asserted without joblib.hash (torch pickles storage addresses)."""
    before = _module_state(cnn)
    extractor = FeatureExtractor(cnn, **params).fit(images)
    extractor.extract(images)
    extractor.outputs(images)
    _assert_same_state(before, _module_state(cnn))
    assert (extractor.module_ is cnn) == ("dtype" not in params)
    assert extractor.get_params()["module"] is cnn


class _Residual(nn.Module):
    """``out = conv(x); out += x``: the conv's output is changed in place."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.gate = nn.Identity()

    def forward(self, x):
        out = self.conv(x)
        out += x
        return self.gate(self.relu(out))


class _LateInPlace(nn.Module):
    """Modifies its hidden layer's output in place from the third call on."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 3)
        self.calls = 0

    def forward(self, x):
        h = self.hidden(x)
        self.calls += 1
        if self.calls >= 3:
            h.mul_(-1.0)
        return h.sum(dim=1, keepdim=True)


def _stream(X, batch_size):
    """A loader of unknown length: the extractor concatenates its batches."""

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(X)

    return torch.utils.data.DataLoader(Stream(), batch_size=batch_size)


def _by_hand(net, X, layers):
    """Each layer's output, cloned at hook time (the reference)."""
    out = {name: [] for name in layers}
    handles = [
        net.get_submodule(name).register_forward_hook(
            lambda m, a, o, name=name: out[name].append(o.flatten(1).clone())
        )
        for name in layers
    ]
    net.eval()
    with torch.no_grad():
        for start in range(0, len(X), 4):
            net(X[start : start + 4])
    for handle in handles:
        handle.remove()
    return {name: torch.cat(chunks).numpy() for name, chunks in out.items()}


@pytest.mark.parametrize("unknown_length", [False, True])
def test_in_place_modules_after_the_hook(unknown_length):
    # Residual `out += x`, in-place ReLU, and a layer nothing modifies: each
    # layer's rows are its output at hook time, copied or not.
    torch.manual_seed(0)
    net = _Residual()
    X = torch.randn(10, 2, 4, 4)
    layers = ["conv", "relu", "gate"]
    ref = _by_hand(net, X, layers)
    source = _stream(X, 4) if unknown_length else X
    extractor = FeatureExtractor(net, layers="conv", batch_size=4).fit(X[:4])
    rows = extractor.extract(source, layers=layers)
    for name in layers:
        np.testing.assert_array_equal(rows[name], ref[name])
    # The conv's output was changed by `out += x`: it differs from the rest.
    assert not np.allclose(ref["conv"], ref["gate"])


def test_kept_rows_modified_later_are_measured_again():
    # Learned on the first batches "no copy needed", then the model starts
    # modifying the layer in place: that batch is measured again with copies.
    torch.manual_seed(0)
    X = torch.randn(12, 4)
    net = _LateInPlace()
    with torch.no_grad():
        expected = torch.cat([net.hidden(X[i : i + 4]) for i in range(0, 12, 4)])
    expected = expected.numpy()
    extractor = FeatureExtractor(net, layers="hidden", batch_size=4).fit(X[:4])
    net.calls = 0
    rows = extractor.transform(_stream(X, 4))
    np.testing.assert_allclose(rows, expected, rtol=1e-6, atol=1e-6)


def test_rows_not_copied_when_nothing_modifies_them(monkeypatch):
    import skfeat.torch._extractor as extractor_module

    clones = []
    kept = extractor_module._Collector._kept

    def counting(self, rows):
        out = kept(self, rows)
        clones.append(out is not rows)
        return out

    monkeypatch.setattr(extractor_module._Collector, "_kept", counting)
    torch.manual_seed(0)
    net = MLP()
    X = torch.randn(20, 5)
    rows = FeatureExtractor(net, layers="hidden", batch_size=5).fit(X[:5])
    out = rows.transform(_stream(X, 5))
    with torch.no_grad():
        expected = torch.cat([net.hidden(X[i : i + 5]) for i in range(0, 20, 5)])
    # (The loader's collated batches may take another GEMM kernel: rounding.)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-6, atol=1e-6)
    # The first batch is copied (to learn), the later ones are not.
    assert clones == [True, False, False, False]
