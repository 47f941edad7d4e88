"""skfeat.torch.analyze: every layer from one pass, equal to the in-memory record."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from skfeat import FeatureSpectrum  # noqa: E402
from skfeat.inspection import feature_record  # noqa: E402
from skfeat.metrics._records import COLUMNS  # noqa: E402
from skfeat.torch import FeatureExtractor, analyze  # noqa: E402


class SmallCNN(nn.Module):
    """Conv + in-place ReLU (the held-out pass must copy it) + BatchNorm."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(24, 10)
        self.act = nn.Tanh()
        self.out = nn.Linear(10, classes)

    def forward(self, x):
        h = self.relu(self.bn(self.conv(x)))
        return self.out(self.act(self.fc(self.flat(self.pool(h)))))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=150)
    X = rng.normal(size=(150, 1, 6, 6)).astype(np.float32)
    X[:, 0, :3, :3] += 2.0 * y[:, None, None]  # a class signal
    return X[:100], y[:100], X[100:], y[100:]


@pytest.fixture
def cnn():
    torch.manual_seed(0)
    net = SmallCNN()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.2, 0.2)
    return net.train()


def _reference(net, X_train, y_train, X_test, y_test, layer, **extractor_params):
    """The in-memory record of one layer (FeatureExtractor + feature_record)."""
    extractor = FeatureExtractor(net, layers=[layer], **extractor_params).fit(X_train)
    train = extractor.extract(X_train, layers=[layer, ""])
    test = extractor.extract(X_test, layers=[layer, ""])
    # The Gram route, as analyze's accumulated moments (feature_record would
    # take the dual route for p > n, equal up to float32 rounding in the tail).
    return feature_record(
        train[layer],
        test[layer],
        y_test,
        test[""],
        y_train=y_train,
        n_targets=3,
        spectrum=FeatureSpectrum(solver="gram"),
    )


def test_every_layer_equals_the_in_memory_record(cnn, data):
    X_train, y_train, X_test, y_test = data
    table = analyze(
        cnn,
        X_train,
        X_test,
        y_train=y_train,
        y_test=y_test,
        batch_size=32,
        spatial_reduction="flatten",
        curves=True,
        as_frame=False,
    )
    names = [record["layer"] for record in table]
    assert names == ["conv", "bn", "relu", "pool", "flat", "fc", "act", "out"]
    assert [record["depth"] for record in table] == list(range(1, 9))
    for record in table:
        assert record["route"] == "gram"
        expected = _reference(cnn, X_train, y_train, X_test, y_test, record["layer"])
        for key, value in expected.items():
            if isinstance(value, str):
                assert record[key] == value, key
            elif isinstance(value, np.ndarray):
                # Per-eigenfunction curves: batch order changes float32 sums,
                # which turns nearly degenerate tail eigenvectors a little.
                np.testing.assert_allclose(record[key], value, rtol=2e-4, atol=1e-4)
            else:
                np.testing.assert_allclose(
                    record[key], value, rtol=2e-4, atol=1e-6, err_msg=key
                )
    # Accuracies: argmax of the outputs, as the tracker computes them.
    with torch.no_grad():
        cnn.eval()
        predicted = cnn(torch.from_numpy(X_test)).argmax(1).numpy()
        cnn.train()
    assert table[0]["test_accuracy"] == pytest.approx(np.mean(predicted == y_test))
    # Every column is in the record schema.
    assert set().union(*table) <= set(COLUMNS)
    # The model is left as found.
    assert all(m.training for m in cnn.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in cnn.modules())


def test_frame_and_layer_display(cnn, data):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from skfeat.plotting import LayerDisplay

    X_train, y_train, X_test, y_test = data
    frame = analyze(
        cnn, X_train, X_test, y_train=y_train, y_test=y_test, layers=["conv", "fc"]
    )
    assert list(frame["layer"]) == ["conv", "fc"]
    assert {"reduction", "route", "D_lambda", "quality_at_C", "nc1"} <= set(frame)
    display = LayerDisplay.from_history(frame, metrics=["D_lambda", "cka_mf"])
    assert len(display.axes_) == 2


def test_wide_layers_go_pooled_and_say_so(cnn, data):
    X_train, y_train, X_test, y_test = data
    table = analyze(
        cnn,
        X_train,
        X_test,
        y_train=y_train,
        y_test=y_test,
        layers=["conv", "fc"],
        spatial_reduction="flatten",
        max_features=100,
        as_frame=False,
    )
    conv, fc = table
    assert (conv["route"], conv["reduction"], conv["n_features"]) == (
        "pooled",
        "channel_mean",
        6,
    )
    assert (fc["route"], fc["reduction"]) == ("gram", "none")
    expected = _reference(
        cnn, X_train, y_train, X_test, y_test, "conv", spatial_reduction="channel_mean"
    )
    for key in ("D_lambda", "quality_at_C", "utility_at_C", "cka_mf", "nc1"):
        np.testing.assert_allclose(conv[key], expected[key], rtol=2e-4, err_msg=key)


def test_randomized_route_recovers_a_low_rank_spectrum():
    """A wide layer of numerical rank 8: the one-pass Nystrom sketch gets its
    eigenvalues and its held-out quality."""
    rng = np.random.default_rng(1)
    torch.manual_seed(0)
    basis = rng.normal(size=(8, 600)).astype(np.float32)
    y = rng.integers(0, 2, size=400)
    codes = rng.normal(size=(400, 8)).astype(np.float32)
    codes[:, 0] += 3 * y
    X = codes @ basis

    class Wide(nn.Module):
        def __init__(self):
            super().__init__()
            self.keep = nn.Identity()
            self.head = nn.Linear(600, 2)

        def forward(self, x):
            return self.head(self.keep(x + 1.0))

    net = Wide()
    table = analyze(
        net,
        X[:300],
        X[300:],
        y_train=y[:300],
        y_test=y[300:],
        layers=["keep"],
        max_features=100,
        spectrum=FeatureSpectrum(n_components=8),
        curves=True,
        as_frame=False,
    )
    (record,) = table
    assert record["route"] == "randomized" and record["n_features"] == 600
    Phi_train, Phi_test = X[:300] + 1.0, X[300:] + 1.0  # rank 9
    with torch.no_grad():
        F = net(torch.from_numpy(X[300:])).numpy()
    dense = feature_record(
        Phi_train, Phi_test, y[300:], F, spectrum=FeatureSpectrum(n_components=8)
    )
    np.testing.assert_allclose(record["eigenvalues"], dense["eigenvalues"], rtol=1e-3)
    np.testing.assert_allclose(record["quality_at_C"], dense["quality_at_C"], rtol=1e-3)
    np.testing.assert_allclose(record["utility_at_C"], dense["utility_at_C"], rtol=1e-3)
    assert "nc1" not in record  # no p x p geometry on the randomized route


def test_labels_from_loaders_and_shuffled_loader_with_labels(cnn, data):
    X_train, y_train, X_test, y_test = data
    tensors = torch.utils.data
    train = tensors.TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train))
    test = tensors.TensorDataset(torch.from_numpy(X_test), torch.from_numpy(y_test))
    shuffled = tensors.DataLoader(train, batch_size=16, shuffle=True)
    from_loaders = analyze(
        cnn,
        shuffled,
        tensors.DataLoader(test, batch_size=20),
        layers=["fc"],
        as_frame=False,
    )
    arrays = analyze(
        cnn,
        X_train,
        X_test,
        y_train=y_train,
        y_test=y_test,
        layers=["fc"],
        as_frame=False,
    )
    # The labels travel with their samples: shuffling changes nothing.
    for key in ("D_lambda", "quality_at_C", "nc1", "compression", "test_accuracy"):
        np.testing.assert_allclose(from_loaders[0][key], arrays[0][key], rtol=1e-4)
    plain = tensors.DataLoader(torch.from_numpy(X_train), batch_size=16, shuffle=True)
    with pytest.raises(ValueError, match="shuffle=True.*would not match"):
        analyze(cnn, plain, X_test, y_train=y_train, y_test=y_test)


def test_clear_errors(cnn, data):
    X_train, y_train, X_test, y_test = data
    with pytest.raises(ValueError, match=r"classes \[7\]"):
        analyze(cnn, X_train, X_test, y_train=y_train, y_test=np.full_like(y_test, 7))
    with pytest.raises(
        ValueError, match="y_train has 99 labels, but X_train has 100 samples"
    ):
        analyze(cnn, X_train, X_test, y_train=y_train[:-1], y_test=y_test)
    with pytest.raises(ValueError, match="geometry=True needs the training labels"):
        analyze(cnn, X_train, X_test, y_test=y_test)
    with pytest.raises(ValueError, match="class labels"):
        analyze(cnn, X_train, X_test, geometry=False)
    with pytest.raises(ValueError, match="y_test holds real values"):
        analyze(cnn, X_train, X_test, y_train=y_train, y_test=y_test + 0.5)
    with pytest.raises(ValueError, match="wide"):
        analyze(cnn, X_train, X_test, y_train=y_train, y_test=y_test, wide="fast")
    # Without training labels, geometry=False still measures the spectrum.
    (record,) = analyze(
        cnn,
        X_train,
        X_test,
        y_test=y_test,
        layers=["fc"],
        geometry=False,
        as_frame=False,
    )
    assert "nc1" not in record and record["rank"] > 0


def test_dict_inputs_token_sequences_and_blocks():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0)

    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(12, 8)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(8, 2)

        def forward(self, input_ids, attention_mask):
            h = self.encoder(
                self.embed(input_ids), src_key_padding_mask=attention_mask == 0
            )
            return {"logits": self.head(h[:, 0])}

    rng = np.random.default_rng(0)
    ids = torch.from_numpy(rng.integers(0, 12, size=(60, 7)))
    mask = torch.ones(60, 7, dtype=torch.long)
    mask[::3, 5:] = 0
    y = (ids[:, 0] % 2).numpy()
    inputs = {"input_ids": ids, "attention_mask": mask}
    train = {k: v[:40] for k, v in inputs.items()}
    test = {k: v[40:] for k, v in inputs.items()}
    table = analyze(
        Tokens(),
        train,
        test,
        y_train=y[:40],
        y_test=y[40:],
        layers="blocks",
        as_frame=False,
    )
    assert [r["layer"] for r in table] == ["encoder.layers.0", "encoder.layers.1"]
    assert all(r["reduction"] == "token_mean" for r in table)
    assert all(r["n_features"] == 8 for r in table)
