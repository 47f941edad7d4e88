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
        ({"y_train": np.zeros(60)}, "one class"),
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
