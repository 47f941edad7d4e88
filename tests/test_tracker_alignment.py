"""FeatureTracker(alignment=True): NFA / C-NFA per tracked layer per update."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from skfeat.torch import FeatureTracker, nfa_correlation  # noqa: E402

LAYERS = ["0:input", "1", "2:input", "4:input"]


def _data(seed=0, n=90):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = np.argmax(X[:, :3], axis=1)
    return X[:60], y[:60], X[60:], y[60:]


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 12),
        nn.ReLU(inplace=True),
        nn.Linear(12, 8),
        nn.Tanh(),
        nn.Linear(8, 3),
    )


def _perturb(net, scale=0.3, seed=1):
    """Stand for training: move every weight."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in net.parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.add_(scale * noise)


def _tracked(X_train, net, **kwargs):
    _, y_train, X_test, y_test = _data()
    tracker = FeatureTracker(
        X_train, y_train, X_test, y_test, layers=LAYERS, alignment=True, **kwargs
    )
    return tracker, {r["layer"]: r for r in tracker.update(net, epoch=0)}


def test_nfa_and_cnfa_equal_direct_calls():
    X_train = _data()[0]
    net = _net()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    _perturb(net)
    net.train()
    tracker, records = _tracked(X_train, net, init_state=init, batch_size=16)
    for layer, module in [("0:input", "0"), ("2:input", "2"), ("4:input", "4")]:
        # Same batches as the tracker: float32 sums then agree to rounding.
        expected = nfa_correlation(net, X_train, module, batch_size=16)
        centred = nfa_correlation(
            net, X_train, module, init_state=init, centered=True, batch_size=16
        )
        assert records[layer]["nfa"] == pytest.approx(expected, abs=1e-10)
        assert records[layer]["cnfa"] == pytest.approx(centred, abs=1e-10)
    # The output of a ReLU feeds no weight of its own: no key, not NaN.
    assert "nfa" not in records["1"] and "cnfa" not in records["1"]
    # Model left as found: training mode, no hooks.
    assert all(m.training for m in net.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())
    # Without init_state: NFA only.
    _, plain = _tracked(X_train, net)
    assert "cnfa" not in plain["2:input"]
    assert plain["2:input"]["nfa"] == pytest.approx(records["2:input"]["nfa"], 1e-6)


def test_nfa_is_not_a_copy_of_another_layer():
    # A wrong mapping (e.g. every layer to one weight) gives equal values.
    net = _net()
    _perturb(net)
    _, records = _tracked(_data()[0], net)
    values = [records[layer]["nfa"] for layer in ("0:input", "2:input", "4:input")]
    assert len(set(np.round(values, 12))) == 3


def test_dataset_and_dataloader_inputs_give_the_array_values():
    X_train = _data()[0]
    net = _net()
    _perturb(net)
    _, reference = _tracked(X_train, net)
    tensors = torch.from_numpy(X_train)
    labels = torch.zeros(len(X_train))
    dataset = torch.utils.data.TensorDataset(tensors, labels)
    loader = torch.utils.data.DataLoader(dataset, batch_size=7)
    for source in (dataset, loader):
        _, records = _tracked(source, net, batch_size=11)
        for layer in ("0:input", "2:input", "4:input"):
            # Other batches: float32 forward passes differ by rounding only.
            assert records[layer]["nfa"] == pytest.approx(
                reference[layer]["nfa"], abs=1e-6
            )


def test_cnfa_at_initialisation_is_zero_with_a_warning():
    X_train = _data()[0]
    net = _net()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.warns(UserWarning, match="constant"):
        _, records = _tracked(X_train, net, init_state=init)
    assert records["2:input"]["cnfa"] == 0.0


def test_conv_input_is_mapped_to_the_conv_weight():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1, 6, 6)).astype(np.float32)
    y = np.arange(40) % 2
    tracker = FeatureTracker(
        X[:30], y[:30], X[30:], y[30:], layers=["0:input", "3:input"], alignment=True
    )
    records = {r["layer"]: r for r in tracker.update(net, 0)}
    assert records["0:input"]["nfa"] == pytest.approx(
        nfa_correlation(net, X[:30], "0"), abs=1e-10
    )
    assert records["3:input"]["nfa"] == pytest.approx(
        nfa_correlation(net, X[:30], "3"), abs=1e-10
    )


def test_frame_and_training_display_show_the_nfa():
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from skfeat.plotting import TrainingDisplay

    X_train, y_train, X_test, y_test = _data()
    net = _net()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    tracker = FeatureTracker(
        X_train,
        y_train,
        X_test,
        y_test,
        layers=["1", "2:input"],
        alignment=True,
        init_state=init,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # cnfa at dW = 0
        for epoch in range(3):
            if epoch:
                _perturb(net, scale=0.05, seed=epoch)
            tracker.update(net, epoch)
    frame = tracker.to_frame()
    assert {"nfa", "cnfa"} <= set(frame.columns)
    by_layer = dict(tuple(frame.groupby("layer")))
    assert by_layer["1"]["nfa"].isna().all()
    np.testing.assert_allclose(
        by_layer["2:input"]["nfa"],
        [r["nfa"] for r in tracker.history if r["layer"] == "2:input"],
    )
    display = TrainingDisplay.from_tracker(tracker, metrics=["nfa", "cnfa"])
    line = display.lines_["nfa", "2:input"]
    np.testing.assert_allclose(line.get_ydata(), by_layer["2:input"]["nfa"])
    assert ("nfa", "1") not in display.lines_
    # Without alignment the frame has no NFA column.
    plain = FeatureTracker(X_train, y_train, X_test, y_test)
    plain.update(net, 0)
    assert "nfa" not in plain.to_frame().columns


def test_bad_alignment_arguments():
    X_train, y_train, X_test, y_test = _data()
    with pytest.raises(ValueError, match="alignment=True"):
        FeatureTracker(X_train, y_train, X_test, y_test, init_state={})
    with pytest.raises(TypeError, match="state_dict"):
        FeatureTracker(X_train, y_train, X_test, y_test, alignment=True, init_state=[1])
