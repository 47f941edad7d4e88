"""FeatureExtractor on the inputs and outputs of real models (issues 15, 17, 18).

Models written here stand for the third-party ones of tests/test_models.py:
dict outputs (Hugging Face's ``ModelOutput``), dict inputs (``BatchEncoding``),
token ids, sequences, compiled modules, recurrent layers, shared modules.
"""

import dataclasses
import warnings
from collections import OrderedDict, UserDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from skfeat.torch import FeatureExtractor  # noqa: E402


class DictOutput(nn.Module):
    """Returns what a Hugging Face classifier returns: a dict with logits."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(5, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        hidden = torch.tanh(self.body(x))
        return OrderedDict(loss=None, hidden=hidden, logits=self.head(hidden))


@dataclasses.dataclass
class Output:
    last_hidden_state: torch.Tensor
    pooled: torch.Tensor


class TinyEncoder(nn.Module):
    """Token ids + attention mask -> (batch, seq, hidden): a BERT in miniature."""

    def __init__(self, vocab=20, hidden=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.mix = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, 2)

    def forward(self, input_ids, attention_mask=None, scale=1.0):
        h = torch.tanh(self.mix(self.embed(input_ids))) * scale
        return Output(last_hidden_state=h, pooled=self.head(h[:, 0]))


def _tokens(n=9, length=6, vocab=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (n, length), generator=g)
    lengths = torch.randint(2, length + 1, (n,), generator=g)
    mask = (torch.arange(length)[None] < lengths[:, None]).long()
    return {"input_ids": ids, "attention_mask": mask}


def test_dict_output_defaults_to_logits_and_selector_picks_another():
    torch.manual_seed(0)
    net = DictOutput()
    X = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    with torch.no_grad():
        out = net(torch.from_numpy(X))
    F = FeatureExtractor(net).fit(X).outputs(X)
    np.testing.assert_allclose(F, out["logits"].numpy(), rtol=1e-6)
    by_key = FeatureExtractor(net, output_selector="hidden").fit(X).outputs(X)
    np.testing.assert_allclose(by_key, out["hidden"].numpy(), rtol=1e-6)
    by_callable = FeatureExtractor(net, output_selector=lambda o: o["hidden"] * 2)
    np.testing.assert_allclose(
        by_callable.fit(X).outputs(X), 2 * out["hidden"].numpy(), rtol=1e-6
    )
    with pytest.raises(ValueError, match="no key or attribute 'nope'"):
        FeatureExtractor(net, output_selector="nope").fit(X)


def test_dict_inputs_batched_token_ids_kept_and_masked_mean():
    torch.manual_seed(0)
    net = TinyEncoder()
    inputs = _tokens()
    # A tokenizer's BatchEncoding is a UserDict, not a dict.
    encoding = UserDict(inputs)
    extractor = FeatureExtractor(net, layers="mix", batch_size=4).fit(encoding)
    assert extractor.integer_inputs_ == "kept"
    Phi = extractor.transform(encoding)
    with torch.no_grad():
        mixed = net.mix(net.embed(inputs["input_ids"]))
    mask = inputs["attention_mask"].double()
    expected = (mixed.double() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    np.testing.assert_allclose(Phi, expected.numpy(), rtol=1e-5, atol=1e-6)
    # The model's output (a dataclass): the first tensor, reduced the same way.
    F = extractor.outputs(encoding)
    with torch.no_grad():
        h = net(**inputs).last_hidden_state.double()
    np.testing.assert_allclose(
        F,
        ((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "reduction", ["first_token", "last_token", "flatten", "tokens_as_samples"]
)
def test_sequence_reductions_against_manual(reduction):
    torch.manual_seed(0)
    net = TinyEncoder()
    inputs = _tokens()
    extractor = FeatureExtractor(
        net, layers="mix", sequence_reduction=reduction, batch_size=4
    ).fit(inputs)
    Phi = extractor.transform(inputs)
    with torch.no_grad():
        mixed = net.mix(net.embed(inputs["input_ids"])).numpy()
    mask = inputs["attention_mask"].numpy().astype(bool)
    if reduction == "first_token":
        expected = mixed[:, 0]
    elif reduction == "last_token":
        last = mask.sum(1) - 1  # right padding
        expected = mixed[np.arange(len(mixed)), last]
    elif reduction == "flatten":
        expected = mixed.reshape(len(mixed), -1)
    else:
        expected = mixed[mask]
    np.testing.assert_allclose(Phi, expected, rtol=1e-6)


def test_forward_kwargs_reach_every_call():
    torch.manual_seed(0)
    net = TinyEncoder()
    inputs = _tokens()
    base = FeatureExtractor(net, layers="").fit(inputs).transform(inputs)
    scaled = FeatureExtractor(net, layers="", forward_kwargs={"scale": 3.0})
    np.testing.assert_allclose(
        scaled.fit(inputs).transform(inputs), 3 * base, rtol=1e-5
    )
    with pytest.raises(ValueError, match="repeats the input key"):
        FeatureExtractor(net, forward_kwargs={"attention_mask": None}).fit(inputs)


def test_token_id_tensor_is_never_cast_and_float_model_gets_integers_cast():
    torch.manual_seed(0)
    embed = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    ids = torch.randint(0, 10, (8, 3))
    extractor = FeatureExtractor(embed).fit(ids)
    assert extractor.integer_inputs_ == "kept"
    with torch.no_grad():
        expected = embed[1](embed[0](ids)).numpy()
    np.testing.assert_allclose(extractor.transform(ids), expected, rtol=1e-6)
    # A model whose first layer multiplies: integers are cast, as sklearn does.
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ints = np.arange(24).reshape(8, 3)
    cast = FeatureExtractor(mlp).fit(ints)
    assert cast.integer_inputs_ == "cast"
    np.testing.assert_allclose(
        cast.transform(ints), cast.transform(ints.astype(np.float32)), rtol=1e-6
    )


@pytest.mark.parametrize(
    "reduction, width", [("flatten", 4 * 5 * 5), ("channel_mean", 4)]
)
def test_spatial_reductions(reduction, width):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(100, 2)
    )
    X = torch.randn(6, 1, 5, 5)
    extractor = FeatureExtractor(net, layers="1", spatial_reduction=reduction)
    Phi = extractor.fit(X).transform(X)
    with torch.no_grad():
        act = net[1](net[0](X))
    expected = act.flatten(1) if reduction == "flatten" else act.mean((2, 3))
    assert Phi.shape == (6, width)
    np.testing.assert_allclose(Phi, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_positions_as_samples_and_conv1d_is_channels_first():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv1d(3, 5, 3, padding=1), nn.Flatten(), nn.Linear(35, 2))
    X = torch.randn(4, 3, 7)
    rows = FeatureExtractor(conv, layers="0", spatial_reduction="positions_as_samples")
    Phi = rows.fit(X).transform(X)
    with torch.no_grad():
        act = conv[0](X)
    np.testing.assert_allclose(Phi, act.transpose(1, 2).reshape(-1, 5).numpy())
    pooled = FeatureExtractor(conv, layers="0", spatial_reduction="channel_mean")
    np.testing.assert_allclose(
        pooled.fit(X).transform(X), act.mean(2).numpy(), rtol=1e-6
    )


def test_compiled_module_is_read_without_recompiling():
    dynamo = pytest.importorskip("torch._dynamo")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    compiled = torch.compile(net, backend="eager")
    X = torch.randn(12, 5)
    compiled(X)  # the user's first compiled call
    frames = dict(dynamo.utils.counters["stats"])
    extractor = FeatureExtractor(compiled, layers=["_orig_mod.1", "1"]).fit(X)
    assert extractor.module_ is net and extractor.layers_ == ["1"]
    for _ in range(3):
        extractor.transform(X)
        compiled(X)  # hooks gone: the cached graph still serves
    assert dict(dynamo.utils.counters["stats"]) == frames
    with torch.no_grad():
        np.testing.assert_allclose(
            extractor.transform(X), net[1](net[0](X)).numpy(), rtol=1e-6
        )


def test_sequence_first_modules_name_the_cause():
    lstm = nn.LSTM(4, 6)  # batch_first=False
    model = nn.Sequential()
    model.add_module("rnn", lstm)
    with pytest.raises(ValueError, match="batch_first=False.*batch_first=True"):
        FeatureExtractor(model, layers="rnn").fit(torch.randn(3, 5, 4))

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=False)
            self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.encoder(x))

    with pytest.raises(ValueError, match="TransformerEncoder with batch_first=False"):
        FeatureExtractor(Wrapped(), layers="encoder").fit(torch.randn(3, 5, 8))

    class SequenceFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(4, 6)
            self.head = nn.Linear(6, 2)

        def forward(self, x):  # samples first in, sequence first inside
            out, _ = self.rnn(x.transpose(0, 1))
            return self.head(out)

    # The layer after it gives (seq, batch, ...) activations: caught by shape.
    with pytest.raises(ValueError, match=r"shape \(5, 2, 2\) for a batch of 2.*first"):
        FeatureExtractor(SequenceFirst(), layers="head").fit(torch.randn(3, 5, 4))


class SharedRelu(nn.Module):
    """torchvision's BasicBlock pattern: one ReLU module called twice."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Linear(4, 4)
        self.conv2 = nn.Linear(4, 4)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out) + x)
        return self.fc(out)


def test_module_called_twice_names_the_cause_and_way_out():
    X = torch.randn(5, 4)
    with pytest.raises(ValueError, match=r"'relu' \(ReLU\) runs 2 times.*:input"):
        FeatureExtractor(SharedRelu(), layers="relu").fit(X)
    # The way out works: the input of the layer consuming the first call.
    FeatureExtractor(SharedRelu(), layers="conv2:input").fit(X).transform(X)
    # And layers="all" leaves the shared module out.
    assert "relu" not in FeatureExtractor(SharedRelu(), layers="all").fit(X).layers_


def test_layers_all_and_blocks_rules():
    torch.manual_seed(0)
    blocks = nn.Sequential(
        nn.Sequential(nn.Linear(4, 6), nn.ReLU()),
        nn.Dropout(0.1),
        nn.Sequential(nn.Linear(6, 5), nn.Tanh()),
        nn.Linear(5, 2),
    )
    X = torch.randn(7, 4)
    every = FeatureExtractor(blocks, layers="all").fit(X)
    assert every.layers_ == ["0.0", "0.1", "2.0", "2.1", "3"]  # Dropout skipped
    assert FeatureExtractor(blocks, layers="blocks").fit(X).layers_ == ["0", "2"]
    with pytest.raises(ValueError, match="no block"):
        FeatureExtractor(nn.Sequential(nn.Linear(4, 2)), layers="blocks").fit(X)


def test_default_device_is_the_models_and_module_never_moves():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    X = np.ones((5, 3), dtype=np.float32)
    extractor = FeatureExtractor(net).fit(X)
    assert extractor.module_ is net
    assert extractor.transform(X).dtype == np.float64  # the model's dtype
    meta = FeatureExtractor(net, device="meta")
    with pytest.raises(Exception):  # noqa: B017 - a meta tensor cannot be read
        meta.fit(X)
    assert next(net.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_model_stays_on_cuda_and_cpu_request_copies():
    from conftest import torch_cuda_runs

    if not torch_cuda_runs():
        pytest.skip("no CUDA device that runs kernels")
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).cuda()
    X = np.ones((5, 3), dtype=np.float32)
    on_gpu = FeatureExtractor(net, array_type="torch").fit(X)
    assert on_gpu.module_ is net and on_gpu.transform(X).device.type == "cuda"
    on_cpu = FeatureExtractor(net, device="cpu").fit(X)
    assert on_cpu.module_ is not net
    assert next(net.parameters()).device.type == "cuda"
    np.testing.assert_allclose(
        on_cpu.transform(X), on_gpu.transform(X).cpu().numpy(), rtol=1e-5
    )


# -- issue 15: one clear error each -------------------------------------------


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))


def test_finiteness_is_checked_after_the_cast_to_the_models_dtype():
    X = np.random.default_rng(0).normal(size=(6, 5)) * 1e200  # finite in float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="beyond the range of torch.float32"):
            FeatureExtractor(_mlp()).fit(X)
    extractor = FeatureExtractor(_mlp()).fit(X[:, :] / 1e200)
    with pytest.raises(ValueError, match="beyond the range"):
        extractor.transform(X)
    # In a float64 copy of the model the same values are fine.
    FeatureExtractor(_mlp(), dtype=torch.float64).fit(X).transform(X)


def test_module_returning_none_is_an_error():
    class Silent(nn.Module):
        def forward(self, x):
            x * 2  # noqa: B018 - forgot to return

    net = nn.Sequential(nn.Linear(5, 3), Silent(), nn.Linear(3, 2))

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            self.net[1](self.net[0](x))
            return self.net[2](self.net[0](x))

    with pytest.raises(TypeError, match=r"Layer 'net.1' returned a NoneType.*None"):
        FeatureExtractor(Outer(), layers="net.1").fit(np.ones((3, 5)))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X: torch.utils.data.DataLoader(X[:0], batch_size=4), "no samples"),
        (
            lambda X: torch.utils.data.DataLoader(X, batch_size=4, drop_last=True),
            r"drop_last=True: it drops the last 2 of 10",
        ),
    ],
)
def test_empty_and_dropping_loaders(make, match):
    X = torch.randn(10, 5)
    with pytest.raises(ValueError, match=match):
        FeatureExtractor(_mlp()).fit(make(X))
    extractor = FeatureExtractor(_mlp()).fit(X)
    with pytest.raises(ValueError, match=match):
        extractor.transform(make(X))


def test_empty_iterable_dataset_is_an_error_not_an_empty_array():
    class Empty(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(())

    extractor = FeatureExtractor(_mlp()).fit(torch.randn(4, 5))
    loader = torch.utils.data.DataLoader(Empty(), batch_size=3)
    with pytest.raises(ValueError, match="yields no samples"):
        extractor.transform(loader)
    # drop_last on a loader whose length is a multiple of the batch is fine.
    exact = torch.utils.data.DataLoader(torch.randn(8, 5), batch_size=4, drop_last=True)
    assert extractor.transform(exact).shape == (8, 4)


def test_wrong_input_width_is_one_clear_error():
    with pytest.raises(ValueError, match=r"shape \(7,\) per sample.*number of feat"):
        FeatureExtractor(_mlp()).fit(np.ones((3, 7)))
    extractor = FeatureExtractor(_mlp()).fit(np.ones((3, 5)))
    assert extractor.n_features_in_ == 5
    with pytest.raises(ValueError, match="X has 7 features, but FeatureExtractor"):
        extractor.transform(np.ones((3, 7)))


def test_complex_inputs_are_refused():
    from skfeat.utils._validation import DtypeError

    for X in (torch.ones(3, 5, dtype=torch.complex64), np.ones((3, 5)) * 1j):
        with pytest.raises(DtypeError, match="Complex data not supported"):
            FeatureExtractor(_mlp()).fit(X)
    with pytest.raises(DtypeError, match="Complex"):
        FeatureExtractor(_mlp()).fit({"x": torch.ones(3, 5, dtype=torch.complex64)})


def test_dict_inputs_of_different_lengths_and_bad_keys():
    net = TinyEncoder()
    inputs = _tokens()
    inputs["attention_mask"] = inputs["attention_mask"][:-1]
    with pytest.raises(ValueError, match="different numbers of samples"):
        FeatureExtractor(net).fit(inputs)
    extractor = FeatureExtractor(net, layers="mix").fit(_tokens())
    with pytest.raises(ValueError, match="inputs"):
        extractor.transform({"input_ids": _tokens()["input_ids"]})
    # Another padded length is fine for token inputs.
    assert extractor.transform(_tokens(length=9)).shape == (9, 8)


def test_loader_of_dicts_with_labels():
    net = TinyEncoder()
    inputs = _tokens()
    labels = torch.arange(9) % 2

    class Encoded(torch.utils.data.Dataset):
        def __len__(self):
            return 9

        def __getitem__(self, i):
            return {**{k: v[i] for k, v in inputs.items()}, "labels": labels[i]}

    loader = torch.utils.data.DataLoader(Encoded(), batch_size=4)
    extractor = FeatureExtractor(net, layers="mix").fit(loader)
    np.testing.assert_allclose(
        extractor.transform(loader), extractor.transform(inputs), rtol=1e-6
    )


def test_bfloat16_model_gives_float32_features():
    net = _mlp().to(torch.bfloat16)
    X = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    Phi = FeatureExtractor(net).fit(X).transform(X)
    assert Phi.dtype == np.float32 and np.all(np.isfinite(Phi))
