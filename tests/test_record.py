"""Tests of feature_record: the one record behind every table of skfeat."""

import numpy as np
import pytest
from _naive import cka_mf as naive_cka_mf
from _naive import cumulative_projection as naive_cumulative
from _naive import feature_projection as naive_feature
from _naive import geometry, hill, linearity, rank_share, spectrum, target_matrix

from skfeat import FeatureSpectrum
from skfeat.inspection import feature_record

# The scalars and curves of a record with outputs (no geometry).
SCALARS = ("rank", "D_lambda", "quality_at_C", "D_q", "utility_at_C", "D_u", "cka_mf",
           "regime")  # fmt: skip
CURVES = ("eigenvalues", "quality", "cumulative_quality", "utility",
          "cumulative_utility")  # fmt: skip


def _arrays(n=120, m=80, p=8, n_classes=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n + m)
    W = rng.normal(size=(n_classes, p))
    Phi = np.eye(n_classes)[y] @ W + 0.5 * rng.normal(size=(n + m, p))
    outputs = Phi @ rng.normal(size=(p, n_classes))
    Phi, outputs = Phi.astype(dtype), outputs.astype(dtype)
    return Phi[:n], Phi[n:], y[n:], outputs[n:]


@pytest.mark.parametrize("n_components", [None, 3])
def test_record_matches_naive_float64_reference(n_components):
    Phi_train, Phi_test, y_test, outputs = _arrays()
    record = feature_record(
        Phi_train,
        Phi_test,
        y_test,
        outputs,
        spectrum=FeatureSpectrum(n_components=n_components),
    )
    lam, V = spectrum(Phi_train)
    K = lam.size if n_components is None else n_components
    E = (Phi_test @ V / np.sqrt(lam))[:, :K]
    Y = np.eye(3)[y_test]
    Q, U = naive_cumulative(E, Y), naive_cumulative(E, outputs)
    q, u = naive_feature(E, Y), naive_feature(E, outputs)
    cka = naive_cka_mf(Phi_test, outputs)

    assert (record["n_features"], record["n_targets"], record["rank"]) == (8, 3, 8)
    np.testing.assert_allclose(record["eigenvalues"], lam[:K], rtol=1e-10)
    np.testing.assert_allclose(record["cumulative_quality"], Q, atol=1e-10)
    np.testing.assert_allclose(record["cumulative_utility"], U, atol=1e-10)
    np.testing.assert_allclose(record["quality"], q, atol=1e-10)
    np.testing.assert_allclose(record["utility"], u, atol=1e-10)
    assert record["quality_at_C"] == pytest.approx(Q[2], abs=1e-10)
    assert record["utility_at_C"] == pytest.approx(U[2], abs=1e-10)
    # D_lambda over the whole spectrum, whatever n_components keeps.
    assert record["D_lambda"] == pytest.approx(1 + hill(lam[1:]), rel=1e-10)
    assert record["D_q"] == pytest.approx(hill(q), rel=1e-8)
    assert record["D_u"] == pytest.approx(hill(u), rel=1e-8)
    assert record["cka_mf"] == pytest.approx(cka, abs=1e-10)
    assert record["regime"] == ("MF" if cka <= 0.1 else "EF")
    assert set(record) == {"n_features", "n_targets", "target_type", *SCALARS, *CURVES}
    for key in CURVES:
        assert isinstance(record[key], np.ndarray)
        assert record[key].dtype == np.float64


def test_n_components_limits_the_held_out_measures():
    rng = np.random.default_rng(3)
    Phi = rng.normal(size=(200, 12))
    y = rng.integers(0, 3, size=200)
    outputs = Phi[:, :3] @ rng.normal(size=(3, 3))
    full = feature_record(Phi[:120], Phi[120:], y[120:], outputs[120:])
    cut = feature_record(
        Phi[:120],
        Phi[120:],
        y[120:],
        outputs[120:],
        spectrum=FeatureSpectrum(n_components=5),
    )
    assert cut["quality"].shape == (5,) and full["quality"].shape == (12,)
    # Per-eigenfunction values and cumulative curves are prefixes of the full ones.
    np.testing.assert_allclose(cut["quality"], full["quality"][:5], atol=1e-12)
    np.testing.assert_allclose(
        cut["cumulative_utility"], full["cumulative_utility"][:5], atol=1e-12
    )
    assert cut["D_q"] == pytest.approx(hill(full["quality"][:5]))
    # The training spectrum and CKA-MF do not depend on K.
    assert cut["D_lambda"] == full["D_lambda"] and cut["rank"] == full["rank"]
    assert cut["cka_mf"] == pytest.approx(full["cka_mf"], abs=1e-12)
    np.testing.assert_array_equal(cut["eigenvalues"], full["eigenvalues"][:5])


def test_spectrum_options_pass_through():
    """solver, rtol and random_state of the template reach the fit."""
    rng = np.random.default_rng(8)
    Phi = rng.normal(size=(300, 40)) * 0.8 ** np.arange(40)
    y = rng.integers(0, 3, size=300)
    exact = feature_record(Phi[:200], Phi[200:], y[200:])
    sketch = feature_record(
        Phi[:200],
        Phi[200:],
        y[200:],
        spectrum=FeatureSpectrum(6, solver="randomized", random_state=0),
    )
    np.testing.assert_allclose(
        sketch["eigenvalues"], exact["eigenvalues"][:6], rtol=1e-6
    )
    coarse = feature_record(
        Phi[:200], Phi[200:], y[200:], spectrum=FeatureSpectrum(rtol=1e-3)
    )
    assert coarse["rank"] == np.sum(
        exact["eigenvalues"] > 1e-3 * exact["eigenvalues"][0]
    )


def test_geometry_columns_of_the_training_features():
    Phi_train, Phi_test, y_test, outputs = _arrays()
    rng = np.random.default_rng(0)
    y_train = rng.integers(0, 3, size=len(Phi_train))
    Phi_train = Phi_train + 2.0 * np.eye(3)[y_train] @ rng.normal(size=(3, 8))
    record = feature_record(Phi_train, Phi_test, y_test, outputs, y_train=y_train)
    ref = geometry(Phi_train, y_train)
    assert record["compression"] == pytest.approx(ref["compression"], rel=1e-9)
    assert record["discrimination"] == pytest.approx(ref["discrimination"], rel=1e-9)
    assert record["nc1"] == pytest.approx(ref["nc1"], rel=1e-8)
    assert record["numerical_rank"] == rank_share(Phi_train, 0.95)
    assert record["target_linearity"] == pytest.approx(
        linearity(Phi_train, target_matrix(y_train)), rel=1e-9
    )
    with pytest.raises(ValueError, match="class labels"):
        feature_record(Phi_train, Phi_test, y_test, y_train=y_train + 0.5)


def test_zero_outputs_give_the_documented_sentinel():
    """A zero-initialised read-out: no eigenfunction is used (D_u = 0)."""
    Phi_train, Phi_test, y_test, outputs = _arrays()
    with pytest.warns(UserWarning):
        record = feature_record(Phi_train, Phi_test, y_test, np.zeros_like(outputs))
    assert record["D_u"] == 0.0 and record["utility_at_C"] == 0.0
    assert np.all(record["utility"] == 0.0)
    assert record["cka_mf"] == 1.0 and record["regime"] == "EF"


def test_without_outputs_leaves_the_utility_measures_out():
    Phi_train, Phi_test, y_test, outputs = _arrays()
    record = feature_record(Phi_train, Phi_test, y_test)
    assert set(record) == {
        "n_features",
        "n_targets",
        "target_type",
        "rank",
        "D_lambda",
        "quality_at_C",
        "D_q",
        "eigenvalues",
        "quality",
        "cumulative_quality",
    }
    with_outputs = feature_record(Phi_train, Phi_test, y_test, outputs)
    for key in record:
        np.testing.assert_array_equal(record[key], with_outputs[key])


def test_n_targets_and_threshold():
    Phi_train, Phi_test, y_test, outputs = _arrays()
    record = feature_record(Phi_train, Phi_test, y_test, outputs, n_targets=5)
    assert record["n_targets"] == 5
    assert record["quality_at_C"] == pytest.approx(record["cumulative_quality"][4])
    # The regime is CKA-MF against the threshold, on either side of it.
    cka = record["cka_mf"]
    assert (
        feature_record(
            Phi_train, Phi_test, y_test, outputs, threshold=min(1.0, cka + 1e-9)
        )["regime"]
        == "MF"
    )
    assert (
        feature_record(
            Phi_train, Phi_test, y_test, outputs, threshold=max(0.0, cka - 1e-9)
        )["regime"]
        == "EF"
    )


def test_regression_target_has_one_column():
    rng = np.random.default_rng(2)
    Phi = rng.normal(size=(80, 4))
    y = Phi @ [1.0, -2.0, 0.0, 0.5]
    record = feature_record(Phi[:50], Phi[50:], y[50:])
    assert record["n_targets"] == 1
    lam, V = spectrum(Phi[:50])
    E = Phi[50:] @ V / np.sqrt(lam)
    expected = naive_cumulative(E, y[50:, None])
    np.testing.assert_allclose(record["cumulative_quality"], expected, atol=1e-10)
    # The target is linear in the features: it lies in their span.
    assert record["cumulative_quality"][-1] == pytest.approx(1.0)


def test_invariant_to_the_order_of_the_test_samples():
    Phi_train, Phi_test, y_test, outputs = _arrays(seed=4)
    order = np.random.default_rng(0).permutation(len(y_test))
    a = feature_record(Phi_train, Phi_test, y_test, outputs)
    b = feature_record(Phi_train, Phi_test[order], y_test[order], outputs[order])
    for key in (*SCALARS, *CURVES):
        if key == "regime":
            assert a[key] == b[key]
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12)


def test_float32_inputs_agree_with_float64_and_are_not_mutated():
    Phi_train, Phi_test, y_test, outputs = _arrays(dtype=np.float32)
    copies = [a.copy() for a in (Phi_train, Phi_test, y_test, outputs)]
    single = feature_record(Phi_train, Phi_test, y_test, outputs)
    for original, copy in zip((Phi_train, Phi_test, y_test, outputs), copies):
        np.testing.assert_array_equal(original, copy)
    double = feature_record(
        Phi_train.astype(np.float64), Phi_test.astype(np.float64), y_test, outputs
    )
    for key in ("quality_at_C", "utility_at_C", "D_lambda", "D_q", "D_u", "cka_mf"):
        assert single[key] == pytest.approx(double[key], rel=1e-4, abs=1e-5), key


def test_array_api_backends_agree_with_numpy(backend):
    Phi_train, Phi_test, y_test, outputs = _arrays()
    expected = feature_record(Phi_train, Phi_test, y_test, outputs)
    record = feature_record(
        backend.asarray(Phi_train),
        backend.asarray(Phi_test),
        y_test,
        backend.asarray(outputs),
    )
    for key in CURVES:
        assert isinstance(record[key], np.ndarray)
        np.testing.assert_allclose(record[key], expected[key], atol=1e-8)
    for key in ("quality_at_C", "utility_at_C", "D_lambda", "D_q", "D_u", "cka_mf"):
        assert isinstance(record[key], float)
        assert record[key] == pytest.approx(expected[key], rel=1e-8, abs=1e-10)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"Phi_test": lambda a: a[:, :5]}, ValueError, "features"),
        ({"y_test": lambda a: a[:-3]}, ValueError, "y"),
        ({"outputs": lambda a: a[:-3]}, ValueError, "outputs"),
        ({"Phi_train": lambda a: np.where(a > 1, np.nan, a)}, ValueError, "NaN"),
        ({"Phi_train": lambda a: a[:1]}, ValueError, "sample"),
        ({"y_test": lambda a: np.zeros_like(a)}, ValueError, "single class"),
    ],
)
def test_bad_input_gets_one_clear_error(change, error, match):
    arrays = dict(
        zip(("Phi_train", "Phi_test", "y_test", "outputs"), _arrays(), strict=True)
    )
    for key, edit in change.items():
        arrays[key] = edit(arrays[key])
    with pytest.raises(error, match=match):
        feature_record(
            arrays["Phi_train"], arrays["Phi_test"], arrays["y_test"], arrays["outputs"]
        )


@pytest.mark.parametrize(
    "kwargs", [{"n_targets": 0}, {"threshold": 1.5}, {"rank_share": 0.0}]
)
def test_bad_parameters(kwargs):
    Phi_train, Phi_test, y_test, outputs = _arrays()
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        feature_record(Phi_train, Phi_test, y_test, outputs, **kwargs)


def test_report_and_tracker_agree_on_the_same_arrays(tmp_path):
    """The tracker's record of a network equals the report's row of its run."""
    torch = pytest.importorskip("torch")
    from skfeat import write_report
    from skfeat.torch import FeatureExtractor, FeatureTracker

    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 6)).astype(np.float32)
    y = np.argmax(X[:, :3], axis=1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)
    )
    tracker = FeatureTracker(X[:90], y[:90], X[90:], y[90:])
    (tracked,) = tracker.update(net, epoch=0)

    extractor = FeatureExtractor(net).fit(X)
    run = {
        "Phi_train": extractor.transform(X[:90]),
        "Phi_test": extractor.transform(X[90:]),
        "y_train": y[:90],
        "y_test": y[90:],
        "outputs_test": extractor.outputs(X[90:]),
        "layers": {},
    }
    direct = feature_record(
        run["Phi_train"], run["Phi_test"], run["y_test"], run["outputs_test"]
    )
    for key in (*SCALARS, *CURVES, "n_features", "n_targets"):
        np.testing.assert_array_equal(tracked[key], direct[key], err_msg=key)
    # The report's table shows the same record, rounded to 3 digits.
    text = open(write_report(run, tmp_path), encoding="utf-8").read()
    row = next(line for line in text.splitlines() if line.startswith("| Phi"))
    cells = [cell.strip() for cell in row.split("|")[3:-1]]
    keys = ("D_lambda", "quality_at_C", "D_q", "utility_at_C", "D_u", "cka_mf")
    assert cells[0] == str(tracked["rank"])
    assert cells[1:8] == [f"{tracked[key]:.3g}" for key in keys] + [tracked["regime"]]


def test_one_schema_for_every_table():
    """Tracker, report and layerwise records name their columns in the schema."""
    from skfeat.metrics._records import COLUMNS

    Phi_train, Phi_test, y_test, outputs = _arrays()
    record = feature_record(
        Phi_train, Phi_test, y_test, outputs, y_train=np.arange(len(Phi_train)) % 3
    )
    assert set(record) <= set(COLUMNS)
