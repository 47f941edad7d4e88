import numpy as np
import pytest
from _naive import projector

torch = pytest.importorskip("torch")
nn = torch.nn

from skfeat.torch import FeatureTracker  # noqa: E402


def _data(seed=0, n=90, classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = np.argmax(X[:, :classes], axis=1)
    return X[:60], y[:60], X[60:], y[60:]


def _net(seed=0, classes=3):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 12),
        nn.ReLU(inplace=True),
        nn.Linear(12, 8),
        nn.Tanh(),
        nn.Linear(8, classes),
    )


def _naive(Phi_train, Phi_test, y_test, F, C):
    """Dense float64 reference: SVD, explicit m x m projectors, m x m kernels."""
    Phi_train, Phi_test, F = (a.astype(np.float64) for a in (Phi_train, Phi_test, F))
    _, s, Vt = np.linalg.svd(Phi_train, full_matrices=False)
    lam = s**2 / len(Phi_train)
    # The rank rule of float32 features: eigenvalues above eps32 * lambda_1.
    keep = lam > lam[0] * np.finfo(np.float32).eps
    E = Phi_test @ Vt[keep].T / np.sqrt(lam[keep])

    Y = np.eye(C)[y_test]
    PY, PF = projector(Y), projector(F)
    Q = [np.sum((projector(E[:, :k]) @ PY) ** 2) for k in range(1, E.shape[1] + 1)]
    U = [np.sum((projector(E[:, :k]) @ PF) ** 2) for k in range(1, E.shape[1] + 1)]
    m = len(Phi_test)
    H = np.eye(m) - 1.0 / m
    K, L = H @ Phi_test @ Phi_test.T @ H, H @ PF @ H
    cka = np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L))
    q = np.sum((PY @ E) ** 2, axis=0) / np.sum(E**2, axis=0)
    u = np.sum((PF @ E) ** 2, axis=0) / np.sum(E**2, axis=0)
    return lam[keep], np.array(Q), np.array(U), 1.0 - cka, q, u


def test_record_matches_naive_float64_reference():
    X_train, y_train, X_test, y_test = _data()
    net = _net()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test)
    (record,) = tracker.update(net, epoch=3)
    with torch.no_grad():
        body = net[:4]
        Phi_train = body(torch.from_numpy(X_train)).numpy()
        Phi_test = body(torch.from_numpy(X_test)).numpy()
        F_train = net(torch.from_numpy(X_train)).numpy()
        F_test = net(torch.from_numpy(X_test)).numpy()
    lam, Q, U, cka, q, u = _naive(Phi_train, Phi_test, y_test, F_test, 3)
    assert record["epoch"] == 3 and record["layer"] == "4:input"
    np.testing.assert_allclose(record["eigenvalues"], lam, rtol=1e-4)
    np.testing.assert_allclose(record["cumulative_quality"], Q, atol=1e-4)
    np.testing.assert_allclose(record["cumulative_utility"], U, atol=1e-4)
    assert record["quality_at_C"] == pytest.approx(Q[2], abs=1e-4)
    assert record["utility_at_C"] == pytest.approx(U[2], abs=1e-4)
    assert record["cka_mf"] == pytest.approx(cka, abs=1e-4)
    assert record["regime"] == ("MF" if cka <= 0.1 else "EF")

    # Hill numbers of the naive spectrum and projections.
    def hill(v):
        p = v[v > 0] / v[v > 0].sum()
        return np.exp(-np.sum(p * np.log(p)))

    assert record["D_lambda"] == pytest.approx(1 + hill(lam[1:]), rel=1e-3)
    np.testing.assert_allclose(record["quality"], q, atol=1e-4)
    np.testing.assert_allclose(record["utility"], u, atol=1e-4)
    assert record["D_q"] == pytest.approx(hill(q), rel=1e-3)
    assert record["D_u"] == pytest.approx(hill(u), rel=1e-3)
    assert record["train_accuracy"] == pytest.approx(
        np.mean(F_train.argmax(1) == y_train)
    )
    assert record["test_accuracy"] == pytest.approx(np.mean(F_test.argmax(1) == y_test))


def test_several_layers_and_model_left_as_found():
    X_train, y_train, X_test, y_test = _data()
    net = _net().train()
    tracker = FeatureTracker(
        X_train, y_train, X_test, y_test, layers=["1", "4:input"], every=2
    )
    assert tracker.update(net, epoch=1) is None
    assert tracker.update(net, epoch=1, force=True)[0]["epoch"] == 1
    records = tracker.update(net, epoch=2)
    assert [r["layer"] for r in records] == ["1", "4:input"]
    assert len(tracker.history) == 4
    assert records[0]["eigenvalues"].size <= 12
    assert net.training and all(m.training for m in net.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())
    # The callable form counts epochs itself: 0 is due, 1 is skipped.
    tracker2 = FeatureTracker(X_train, y_train, X_test, y_test, every=2)
    assert tracker2(net) is not None and tracker2(net) is None
    assert len(tracker2.history) == 1


def test_labels_mapped_through_sorted_classes():
    X_train, y_train, X_test, y_test = _data()
    names = np.array(["ant", "bee", "cat"])
    net = _net()
    plain = FeatureTracker(X_train, y_train, X_test, y_test).update(net, 0)[0]
    named = FeatureTracker(X_train, names[y_train], X_test, names[y_test]).update(
        net, 0
    )[0]
    for key in ("train_accuracy", "test_accuracy", "quality_at_C"):
        assert named[key] == pytest.approx(plain[key])


def test_history_frame_and_plot():
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X_train, y_train, X_test, y_test = _data()
    net = _net()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test)
    for epoch in range(3):
        tracker.update(net, epoch)
    frame = tracker.to_frame()
    assert list(frame["epoch"]) == [0, 1, 2]
    assert {"quality_at_C", "cka_mf", "regime", "seconds"} <= set(frame.columns)
    assert "eigenvalues" not in frame.columns
    assert "eigenvalues" in tracker.to_frame(curves=True).columns
    ax = tracker.plot(metrics=("cka_mf", "test_accuracy"))
    assert len(ax.get_lines()) == 2
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), frame["cka_mf"])
    with pytest.raises(ValueError, match="regime"):
        tracker.plot(metrics=("regime",))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y_train": np.zeros(60, dtype=int)}, "one class"),
        ({"y_test": np.zeros((30, 2))}, "1-D"),
        ({"every": 0}, "every"),
    ],
)
def test_bad_arguments(kwargs, match):
    X_train, y_train, X_test, y_test = _data()
    args = {"X_train": X_train, "y_train": y_train, "X_test": X_test}
    args["y_test"] = y_test
    if "y_train" in kwargs:
        args["y_test"] = np.zeros(30)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        FeatureTracker(
            args.pop("X_train"),
            args.pop("y_train"),
            args.pop("X_test"),
            args.pop("y_test"),
            **args,
        )


def test_spectrum_must_be_a_template():
    with pytest.raises(TypeError, match="spectrum"):
        FeatureTracker(
            np.zeros((4, 2)),
            [0, 1, 0, 1],
            np.zeros((4, 2)),
            [0, 1, 0, 1],
            spectrum=5,
        )


def test_epoch_convention_records_before_and_after_once():
    """Epoch 0 before training, every k-th epoch, and the last one, once each."""
    X_train, y_train, X_test, y_test = _data()
    net = _net()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test, every=5)
    epochs = 7
    tracker.update(net, 0)
    for epoch in range(1, epochs + 1):
        tracker.update(net, epoch, force=epoch == epochs)
    assert [r["epoch"] for r in tracker.history] == [0, 5, 7]
    # An epoch already recorded is not recorded again.
    assert tracker.update(net, 7, force=True) is None
    assert len(tracker.history) == 3


def test_spectrum_options_and_geometry_reach_the_record():
    from skfeat import FeatureSpectrum

    X_train, y_train, X_test, y_test = _data()
    net = _net()
    tracker = FeatureTracker(
        X_train,
        y_train,
        X_test,
        y_test,
        spectrum=FeatureSpectrum(n_components=4),
        geometry=True,
    )
    (record,) = tracker.update(net, 0)
    assert record["quality"].shape == (4,) and record["rank"] >= 4
    for key in ("compression", "nc1", "target_linearity", "numerical_rank"):
        assert key in record


# -- issue 12 point 7 and issue 15: the user's own loop ------------------------


def _loaders(shuffle):
    X_train, y_train, X_test, y_test = _data()
    data = torch.utils.data
    train = data.TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train))
    test = data.TensorDataset(torch.from_numpy(X_test), torch.from_numpy(y_test))
    return (
        data.DataLoader(train, batch_size=16, shuffle=shuffle),
        data.DataLoader(test, batch_size=16),
    )


def test_labels_read_from_loaders_even_shuffled():
    X_train, y_train, X_test, y_test = _data()
    reference = FeatureTracker(X_train, y_train, X_test, y_test, geometry=True)
    (expected,) = reference.update(_net(), epoch=0)
    train, test = _loaders(shuffle=True)
    tracker = FeatureTracker(train, None, test, None, geometry=True)
    (record,) = tracker.update(_net(), epoch=0)
    np.testing.assert_array_equal(tracker.classes_, reference.classes_)
    for key in ("quality_at_C", "D_lambda", "cka_mf", "nc1", "train_accuracy"):
        assert record[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key


def test_shuffled_loader_beside_given_labels_is_refused():
    train, test = _loaders(shuffle=True)
    X_train, y_train, X_test, y_test = _data()
    with pytest.raises(ValueError, match="y_train.*shuffle=True.*would not match"):
        FeatureTracker(train, y_train, X_test, y_test)


def test_loader_without_labels_needs_them():
    X_train, y_train, X_test, y_test = _data()
    plain = torch.utils.data.DataLoader(torch.from_numpy(X_train), batch_size=8)
    tracker = FeatureTracker(plain, None, X_test, y_test)
    with pytest.raises(ValueError, match="y_train=None needs X_train to carry"):
        tracker.update(_net(), epoch=0)


def test_unseen_test_labels_wrong_lengths_and_every_name_the_parameter():
    X_train, y_train, X_test, y_test = _data()
    with pytest.raises(ValueError, match=r"classes \[9\]"):
        FeatureTracker(X_train, y_train, X_test, np.full_like(y_test, 9))
    with pytest.raises(ValueError, match="y_train has 59 labels, but X_train has 60"):
        FeatureTracker(X_train, y_train[:-1], X_test, y_test)
    with pytest.raises(ValueError, match="y_test has 31 labels"):
        FeatureTracker(X_train, y_train, X_test, np.append(y_test, 0))
    for every in ("a", 0, 1.5, True):
        with pytest.raises(ValueError, match="every must be a positive integer"):
            FeatureTracker(X_train, y_train, X_test, y_test, every=every)
    with pytest.raises(ValueError, match="spatial_reduction"):
        FeatureTracker(X_train, y_train, X_test, y_test, spatial_reduction="max")


def test_bfloat16_autocast_and_bfloat16_model():
    X_train, y_train, X_test, y_test = _data()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test)
    reference = FeatureTracker(X_train, y_train, X_test, y_test)
    (expected,) = reference.update(_net(), epoch=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (record,) = tracker.update(_net(), epoch=0)
    assert np.isfinite(record["quality_at_C"]) and np.isfinite(record["cka_mf"])
    # bfloat16 has 8 bits of mantissa: the measures agree to a few percent.
    assert record["quality_at_C"] == pytest.approx(expected["quality_at_C"], rel=0.05)
    (half,) = FeatureTracker(X_train, y_train, X_test, y_test).update(
        _net().to(torch.bfloat16), epoch=0
    )
    assert half["eigenvalues"].dtype == np.float64 and np.isfinite(half["D_lambda"])


def test_model_is_measured_where_it_is_and_never_moved():
    X_train, y_train, X_test, y_test = _data()
    net = _net().double()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test, device="cpu")
    tracker.update(net, epoch=0)
    assert next(net.parameters()).dtype == torch.float64
    assert all(m.training for m in net.modules())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_model_stays_on_cuda():
    from conftest import torch_cuda_runs

    if not torch_cuda_runs():
        pytest.skip("no CUDA device that runs kernels")
    X_train, y_train, X_test, y_test = _data()
    net = _net().cuda()
    (record,) = FeatureTracker(X_train, y_train, X_test, y_test).update(net, 0)
    assert next(net.parameters()).device.type == "cuda"
    (cpu,) = FeatureTracker(X_train, y_train, X_test, y_test).update(net.cpu(), 0)
    assert record["quality_at_C"] == pytest.approx(cpu["quality_at_C"], rel=1e-3)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        (auto,) = FeatureTracker(X_train, y_train, X_test, y_test).update(net.cuda(), 0)
    assert np.isfinite(auto["quality_at_C"])


def test_tokens_as_samples_repeat_labels_and_outputs():
    torch.manual_seed(0)

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.mix = nn.Linear(4, 6)
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            return self.head(torch.tanh(self.mix(x)).mean(1))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5, 4)).astype(np.float32)
    y = np.arange(40) % 3
    tracker = FeatureTracker(
        X[:30],
        y[:30],
        X[30:],
        y[30:],
        layers="mix",
        sequence_reduction="tokens_as_samples",
    )
    (record,) = tracker.update(Seq(), epoch=0)
    assert record["n_features"] == 6 and np.isfinite(record["quality_at_C"])


# -- issue 18: regression targets ----------------------------------------------


def _regression_data(t=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 6)).astype(np.float32)
    Y = X[:, :t] * 2.0 + 0.5 + 0.1 * rng.normal(size=(90, t))
    return X[:60], Y[:60], X[60:], Y[60:]


@pytest.mark.parametrize("t", [1, 2])
def test_regression_records_r2_t_and_quality_at_t_plus_one(t):
    from _naive import cumulative_projection, r2, spectrum

    X_train, Y_train, X_test, Y_test = _regression_data(t)
    y_train, y_test = (Y_train[:, 0], Y_test[:, 0]) if t == 1 else (Y_train, Y_test)
    net = _net(classes=t)
    tracker = FeatureTracker(X_train, y_train, X_test, y_test, geometry=True)
    (record,) = tracker.update(net, 0)
    assert tracker.target_type_ == "values" and not hasattr(tracker, "classes_")
    assert record["target_type"] == "values" and record["n_targets"] == t
    assert "train_accuracy" not in record and "nc1" not in record
    with torch.no_grad():
        Phi_train = net[:4](torch.from_numpy(X_train)).double().numpy()
        Phi_test = net[:4](torch.from_numpy(X_test)).double().numpy()
        F_train = net(torch.from_numpy(X_train)).double().numpy()
        F_test = net(torch.from_numpy(X_test)).double().numpy()
    assert record["train_r2"] == pytest.approx(r2(Y_train, F_train), rel=1e-5)
    assert record["test_r2"] == pytest.approx(r2(Y_test, F_test), rel=1e-5)
    lam, V = spectrum(Phi_train, rtol=np.finfo(np.float32).eps)
    Q = cumulative_projection(Phi_test @ V / np.sqrt(lam), Y_test)
    assert record["quality_at_C"] == pytest.approx(Q[t], abs=1e-4)
    assert 0 <= record["target_linearity"] <= 1
    frame = tracker.to_frame()
    assert {"train_r2", "test_r2", "target_type"} <= set(frame.columns)


def test_regression_targets_from_loaders_and_told_target_type():
    X_train, Y_train, X_test, Y_test = _regression_data(2)
    data = torch.utils.data
    train = data.DataLoader(
        data.TensorDataset(torch.from_numpy(X_train), torch.from_numpy(Y_train)),
        batch_size=16,
        shuffle=True,
    )
    test = data.DataLoader(
        data.TensorDataset(torch.from_numpy(X_test), torch.from_numpy(Y_test)),
        batch_size=16,
    )
    reference = FeatureTracker(X_train, Y_train, X_test, Y_test)
    (expected,) = reference.update(_net(classes=2), 0)
    tracker = FeatureTracker(train, None, test, None)
    (record,) = tracker.update(_net(classes=2), 0)
    assert tracker.target_type_ == "values" and record["n_targets"] == 2
    for key in ("quality_at_C", "test_r2", "train_r2", "cka_mf"):
        assert record[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
    # Whole-number float targets: a warning under "auto", none when told.
    whole_train, whole_test = np.round(Y_train[:, 0]), np.round(Y_test[:, 0])
    with pytest.warns(UserWarning, match="whole numbers"):
        FeatureTracker(X_train, whole_train, X_test, whole_train[: len(X_test)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        told = FeatureTracker(
            X_train, whole_train, X_test, whole_test, target_type="values"
        )
        (record,) = told.update(_net(classes=1), 0)
    assert record["target_type"] == "values" and np.isfinite(record["test_r2"])
    with pytest.raises(ValueError, match="target_type"):
        FeatureTracker(X_train, whole_train, X_test, whole_test, target_type="real")
    with pytest.raises(ValueError, match="2 columns but the test targets 1"):
        FeatureTracker(X_train, Y_train, X_test, Y_test[:, :1])


def test_module_errors_reach_the_tracker():
    class SharedRelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(6, 6), nn.Linear(6, 6)
            self.relu, self.head = nn.ReLU(), nn.Linear(6, 3)

        def forward(self, x):
            return self.head(self.relu(self.fc2(self.relu(self.fc1(x)))))

    X_train, y_train, X_test, y_test = _data()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test, layers="relu")
    with pytest.raises(ValueError, match=r"runs 2 times.*'<that layer>:input'"):
        tracker.update(SharedRelu(), 0)
    assert tracker.history == []

    class SequenceFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.LSTM(6, 8), nn.Linear(8, 3)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    seq = np.repeat(X_train[:, None, :], 4, axis=1)
    tracker = FeatureTracker(seq, y_train, seq, y_train, layers="rnn")
    with pytest.raises(
        ValueError, match="LSTM with batch_first=False.*batch_first=True"
    ):
        tracker.update(SequenceFirst(), 0)


def test_wide_layer_randomized_spectrum_and_sample_side_geometry():
    from _naive import geometry, linearity, target_matrix

    from skfeat import FeatureSpectrum

    X_train, y_train, X_test, y_test = _data()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 100), nn.ReLU(), nn.Linear(100, 3))
    spectrum = FeatureSpectrum(n_components=5, solver="randomized", random_state=0)
    tracker = FeatureTracker(
        X_train, y_train, X_test, y_test, layers="1", spectrum=spectrum,
        geometry=True,
    )  # fmt: skip
    (record,) = tracker.update(net, 0)
    assert record["n_features"] == 100 > len(X_train)  # p > n: the n x n side
    assert record["quality"].shape == (5,)
    with torch.no_grad():
        H = net[:2](torch.from_numpy(X_train)).double().numpy()
    naive = geometry(H, y_train)
    for key in ("compression", "discrimination", "nc1"):
        assert record[key] == pytest.approx(naive[key], rel=1e-5), key
    assert record["target_linearity"] == pytest.approx(
        linearity(H, target_matrix(y_train)), rel=1e-5
    )
