"""The models researchers study, randomly initialised (no download): issue 17.

Hugging Face (BERT, GPT-2, ViT from tiny configs), torchvision's ResNet-18, a
timm model, and training runs under Lightning and skorch, each through the
extractor, the spectrum, the tracker, the NFA, the whole-network analysis and
a scorer in GridSearchCV.

All tests here carry the ``models`` marker: ``.ci/run``'s fourth step runs
them (``pytest -m models``) in an environment with the CUDA build of torch,
where torchvision imports.  Beside the CPU build of torch, torchvision's
wheels do not import ("operator torchvision::nms does not exist"): the
torchvision and timm tests skip there with that reason.  Lightning's metrics
import torchvision whenever it is installed, so Lightning is tested where
torchvision is absent or works.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from skfeat import FeatureSpectrum  # noqa: E402
from skfeat.metrics import get_scorer  # noqa: E402
from skfeat.torch import (  # noqa: E402
    FeatureExtractor,
    FeatureTracker,
    analyze,
    nfa_correlation,
)

pytestmark = pytest.mark.models


def _import_or_skip(name, why=""):
    """Import ``name``, or skip with the reason it cannot be imported here."""
    try:
        return __import__(name, fromlist=["_"])
    except Exception as exc:  # ImportError, or torchvision's RuntimeError
        pytest.skip(
            f"{name} cannot be imported here ({type(exc).__name__}: {exc}){why}; "
            ".ci/run's fourth step runs these tests with the CUDA build of torch."
        )


# -- Hugging Face ---------------------------------------------------------------


@pytest.fixture(scope="module")
def transformers():
    module = _import_or_skip("transformers")
    module.logging.set_verbosity_error()
    return module


def _token_data(n=48, length=10, vocab=40, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, size=(n, length))
    lengths = rng.integers(4, length + 1, size=n)
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int64)
    ids = ids * mask  # 0 = padding
    y = (ids[:, 1] % 2).astype(np.int64)
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
    }, y


def _split(inputs, n_train):
    return (
        {k: v[:n_train] for k, v in inputs.items()},
        {k: v[n_train:] for k, v in inputs.items()},
    )


def _tiny_bert(transformers):
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    return transformers.BertModel(config).eval()


def _tiny_gpt2(transformers):
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=40,
        n_embd=16,
        n_layer=2,
        n_head=2,
        n_positions=16,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2Model(config).eval()


def test_bert_dict_inputs_model_output_and_reductions(transformers):
    bert = _tiny_bert(transformers)
    inputs, y = _token_data()
    encoding = transformers.BatchEncoding(inputs)
    extractor = FeatureExtractor(bert, batch_size=16).fit(encoding)
    # The last Linear is the pooler's: its input is the [CLS] hidden state.
    assert extractor.layers_ == ["pooler.dense:input"]
    assert extractor.integer_inputs_ == "kept"
    with torch.no_grad():
        out = bert(**inputs)
    np.testing.assert_allclose(
        extractor.transform(encoding), out.last_hidden_state[:, 0].numpy(), atol=1e-5
    )
    # The output (a ModelOutput without logits): its first tensor, token mean.
    mask = inputs["attention_mask"][..., None].float()
    mean = (out.last_hidden_state * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(extractor.outputs(encoding), mean.numpy(), atol=1e-5)
    pooled = FeatureExtractor(bert, output_selector="pooler_output").fit(encoding)
    np.testing.assert_allclose(
        pooled.outputs(encoding), out.pooler_output.numpy(), atol=1e-5
    )
    cls = FeatureExtractor(
        bert, layers="encoder.layer.1", sequence_reduction="first_token"
    ).fit(encoding)
    np.testing.assert_allclose(
        cls.transform(encoding), out.last_hidden_state[:, 0].numpy(), atol=1e-5
    )
    spectrum = FeatureSpectrum().fit(extractor.transform(encoding))
    assert spectrum.rank_ >= 10


def test_bert_tracker_nfa_and_analyze(transformers):
    bert = _tiny_bert(transformers)
    inputs, y = _token_data()
    train, test = _split(inputs, 32)
    tracker = FeatureTracker(
        train,
        y[:32],
        test,
        y[32:],
        layers=["encoder.layer.1.output.dense:input"],
        alignment=True,
        geometry=True,
    )
    (record,) = tracker.update(bert, epoch=0)
    assert record["n_features"] == 32 and -1 <= record["nfa"] <= 1
    assert np.isfinite(record["nc1"])
    rho = nfa_correlation(bert, inputs, "encoder.layer.0.intermediate.dense")
    assert -1.0 <= rho <= 1.0
    table = analyze(
        bert,
        train,
        test,
        y_train=y[:32],
        y_test=y[32:],
        layers="blocks",
        as_frame=False,
    )
    assert [r["layer"] for r in table] == ["encoder.layer.0", "encoder.layer.1"]
    assert all(r["reduction"] == "token_mean" and r["route"] == "gram" for r in table)


def test_gpt2_conv1d_is_linear_and_token_ids_stay_integers(transformers):
    gpt2 = _tiny_gpt2(transformers)
    inputs, y = _token_data()
    ids = inputs["input_ids"]
    extractor = FeatureExtractor(gpt2, sequence_reduction="last_token").fit(ids)
    # transformers' Conv1D counts as linear: the default layer exists.
    assert extractor.layers_ == ["h.1.mlp.c_proj:input"]
    assert extractor.integer_inputs_ == "kept"
    Phi = extractor.transform(ids)
    assert Phi.shape == (48, 64)
    # The language model's (seq x hidden) output is reduced, not flattened.
    assert extractor.outputs(ids).shape == (48, 16)
    rho = nfa_correlation(gpt2, ids[:16], "h.1.mlp.c_fc")
    assert -1.0 <= rho <= 1.0
    from skfeat.torch import agop, neural_feature_matrix

    # Conv1D stores W as (in, out): the NFM is the input side's, 16 x 16.
    assert neural_feature_matrix(gpt2, "h.0.attn.c_attn").shape == (16, 16)
    assert agop(gpt2, ids[:8], "h.0.mlp.c_fc", average=True).shape == (16, 16)


def test_gpt2_language_model_tracker_over_training_steps(transformers):
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=40, n_embd=16, n_layer=2, n_head=2, n_positions=16
    )
    lm = transformers.GPT2LMHeadModel(config)
    inputs, y = _token_data()
    ids = inputs["input_ids"]
    tracker = FeatureTracker(
        ids[:32],
        y[:32],
        ids[32:],
        y[32:],
        sequence_reduction="last_token",
        geometry=True,
    )
    optimizer = torch.optim.SGD(lm.parameters(), lr=0.1)
    for epoch in range(2):
        tracker.update(lm, epoch)
        lm.train()
        optimizer.zero_grad()
        lm(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
    records = tracker.update(lm, 2)
    assert [r["epoch"] for r in tracker.history] == [0, 1, 2]
    (record,) = records
    # The default layer: the input of the LM head (a Linear), 16 features;
    # the (seq x vocab) logits are reduced to their last token, not flattened.
    assert record["n_features"] == 16
    extractor = FeatureExtractor(lm, sequence_reduction="last_token").fit(ids)
    assert extractor.outputs(ids).shape == (48, 40)
    assert 0.0 <= record["cka_mf"] <= 1.0 and np.isfinite(record["nc1"])


def test_gpt2_scorers_in_grid_search_over_layers(transformers):
    gpt2 = _tiny_gpt2(transformers)
    inputs, y = _token_data(n=60)
    ids = inputs["input_ids"]
    pipe = Pipeline(
        [("features", FeatureExtractor(gpt2)), ("spectrum", FeatureSpectrum())]
    )
    search = GridSearchCV(
        pipe,
        {"features__layers": ["h.0", "h.1"]},
        scoring={name: get_scorer(name) for name in ("quality", "utility")},
        refit=False,
        cv=2,
    ).fit(ids, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_quality"]))
    assert np.all(search.cv_results_["mean_test_utility"] > 0)


def test_vit_image_patches(transformers):
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=16,
        patch_size=4,
        num_channels=3,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
    )
    vit = transformers.ViTModel(config, add_pooling_layer=False).eval()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3, 16, 16)).astype(np.float32)
    y = np.arange(40) % 2
    cls = FeatureExtractor(vit, layers="layernorm", sequence_reduction="first_token")
    Phi = cls.fit(X).transform(X)
    with torch.no_grad():
        expected = vit(pixel_values=torch.from_numpy(X)).last_hidden_state[:, 0]
    np.testing.assert_allclose(Phi, expected.numpy(), atol=1e-5)
    # Block and layer names differ between transformers releases: find them.
    blocks = FeatureExtractor(vit, layers="blocks").fit(X).layers_
    linear = [n for n, m in vit.named_modules() if isinstance(m, nn.Linear)]
    assert len(blocks) == 2
    (record,) = FeatureTracker(
        X[:30], y[:30], X[30:], y[30:], layers=blocks[-1]
    ).update(vit, epoch=0)
    assert record["n_features"] == 16 and np.isfinite(record["D_lambda"])
    table = analyze(
        vit,
        X[:30],
        X[30:],
        y_train=y[:30],
        y_test=y[30:],
        layers="blocks",
        as_frame=False,
    )
    assert [r["layer"] for r in table] == blocks
    assert -1 <= nfa_correlation(vit, X[:8], linear[-1]) <= 1


# -- torchvision and timm --------------------------------------------------------


@pytest.fixture(scope="module")
def torchvision():
    return _import_or_skip("torchvision")


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    y = np.arange(80) % 10
    X = rng.normal(size=(80, 3, 32, 32)).astype(np.float32)
    X[:, 0, :8, :8] += y[:, None, None] / 3.0
    return X, y


def _resnet(torchvision):
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=10).eval()


def test_resnet18_extract_spectrum_nfa_and_shared_relu(torchvision, images):
    resnet = _resnet(torchvision)
    X, y = images
    extractor = FeatureExtractor(resnet, batch_size=32).fit(X)
    assert extractor.layers_ == ["fc:input"]
    Phi = extractor.transform(X)
    assert Phi.shape == (80, 512)
    assert FeatureSpectrum().fit(Phi).rank_ > 10
    # torchvision's BasicBlock calls one ReLU twice: a clear error, a way out.
    with pytest.raises(ValueError, match=r"'layer1.0.relu' \(ReLU\) runs 2 times"):
        FeatureExtractor(resnet, layers="layer1.0.relu").fit(X)
    FeatureExtractor(resnet, layers="layer1.0.conv2:input").fit(X).transform(X[:4])
    assert -1 <= nfa_correlation(resnet, X[:16], "fc") <= 1
    assert -1 <= nfa_correlation(resnet, X[:4], "layer4.1.conv2") <= 1


def test_resnet18_analyze_all_layers_and_tracker(torchvision, images):
    resnet = _resnet(torchvision)
    X, y = images
    table = analyze(
        resnet,
        X[:60],
        X[60:],
        y_train=y[:60],
        y_test=y[60:],
        layers="all",
        batch_size=32,
        as_frame=False,
    )
    names = [r["layer"] for r in table]
    assert names[0] == "conv1" and names[-1] == "fc"
    assert not any(n.endswith(".relu") for n in names if n.startswith("layer"))
    # The default reads every conv layer by its channel means (p = C).
    assert all(r["route"] == "gram" for r in table)
    widths = {r["layer"]: (r["reduction"], r["n_features"]) for r in table}
    assert widths["conv1"] == ("channel_mean", 64)
    assert widths["layer4.1.bn2"] == ("channel_mean", 512)
    assert widths["fc"] == ("none", 10)
    flat = analyze(
        resnet,
        X[:60],
        X[60:],
        y_train=y[:60],
        y_test=y[60:],
        layers=["conv1", "layer4.1.bn2"],
        spatial_reduction="flatten",
        as_frame=False,
    )
    assert [(r["route"], r["n_features"]) for r in flat] == [
        ("pooled", 64),
        ("gram", 512),
    ]
    assert all(np.isfinite(r["D_lambda"]) and r["rank"] >= 1 for r in table)
    tracker = FeatureTracker(
        X[:60],
        y[:60],
        X[60:],
        y[60:],
        layers=["avgpool", "fc:input"],
        alignment=True,
    )
    records = tracker.update(resnet, epoch=0)
    assert [r["layer"] for r in records] == ["avgpool", "fc:input"]
    assert "nfa" in records[1] and "nfa" not in records[0]


def test_resnet18_layers_in_grid_search_run_the_network_once_per_score(
    torchvision, images
):
    resnet = _resnet(torchvision)
    X, y = images
    pipe = Pipeline(
        [
            ("features", FeatureExtractor(resnet, spatial_reduction="channel_mean")),
            ("spectrum", FeatureSpectrum()),
        ]
    )
    scoring = {name: get_scorer(name) for name in ("quality", "utility", "neg_cka_mf")}
    search = GridSearchCV(
        pipe,
        {"features__layers": ["layer3", "layer4", "avgpool"]},
        scoring=scoring,
        refit="quality",
        cv=2,
    ).fit(X, y)
    for name in scoring:
        assert np.all(np.isfinite(search.cv_results_[f"mean_test_{name}"]))
    assert search.best_params_["features__layers"] in {"layer3", "layer4", "avgpool"}
    # The utility scorer gets features and outputs from one forward pass.
    fitted = search.best_estimator_
    network = fitted.named_steps["features"].module_  # a clone's copy
    calls = []
    handle = network.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        score = get_scorer("utility")(fitted, X[:40], y[:40])
    finally:
        handle.remove()
    assert len(calls) == 1 and 0 < score <= 1


def test_timm_model(torchvision, images):
    timm = _import_or_skip("timm")
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=10).eval()
    X, y = images
    extractor = FeatureExtractor(model).fit(X)
    assert extractor.layers_ == ["fc:input"]
    table = analyze(
        model,
        X[:60],
        X[60:],
        y_train=y[:60],
        y_test=y[60:],
        layers="blocks",
        as_frame=False,
    )
    assert len(table) >= 4 and all(np.isfinite(r["quality_at_C"]) for r in table)
    (record,) = FeatureTracker(X[:60], y[:60], X[60:], y[60:]).update(model, 0)
    assert np.isfinite(record["cka_mf"])
    assert -1 <= nfa_correlation(model, X[:16], "fc") <= 1


# -- training frameworks ----------------------------------------------------------


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return X[:300], y[:300], X[300:450], y[300:450]


def test_lightning_training_run_drives_the_tracker():
    pl = _import_or_skip("pytorch_lightning", " (Lightning imports torchvision)")
    from skfeat.torch.callbacks import LightningFeatureTracker

    X_train, y_train, X_test, y_test = _digits()

    class Classifier(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, _):
            x, t = batch
            return nn.functional.cross_entropy(self(x), t)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    torch.manual_seed(0)
    model = Classifier()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test, every=2)
    data = torch.utils.data.TensorDataset(
        torch.from_numpy(X_train), torch.from_numpy(y_train)
    )
    trainer = pl.Trainer(
        max_epochs=3,
        callbacks=[LightningFeatureTracker(tracker, module="net")],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=32, shuffle=True))
    # Epoch 0, the due epoch 2, and the final epoch 3 (forced).
    assert [r["epoch"] for r in tracker.history] == [0, 2, 3]
    assert tracker.history[-1]["layer"] == "2:input"
    assert tracker.history[-1]["test_accuracy"] > tracker.history[0]["test_accuracy"]


def test_skorch_training_run_drives_the_tracker():
    skorch = _import_or_skip("skorch")
    from skfeat.torch.callbacks import SkorchFeatureTracker

    X_train, y_train, X_test, y_test = _digits()
    tracker = FeatureTracker(X_train, y_train, X_test, y_test, geometry=True)
    torch.manual_seed(0)
    net = skorch.NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.5,
        train_split=None,
        verbose=0,
        callbacks=[SkorchFeatureTracker(tracker)],
    )
    net.fit(X_train, y_train)
    assert [r["epoch"] for r in tracker.history] == [0, 1, 2, 3]
    assert tracker.history[-1]["test_accuracy"] > tracker.history[0]["test_accuracy"]


def test_callbacks_refuse_what_is_not_a_tracker():
    from skfeat.torch import callbacks

    for name, needed in (
        ("LightningFeatureTracker", callbacks._NO_LIGHTNING),
        ("SkorchFeatureTracker", callbacks._NO_SKORCH),
    ):
        error = ImportError if needed else TypeError
        with pytest.raises(error):
            getattr(callbacks, name)("not a tracker")
