"""Regression targets end to end: one target_type, R^2, t and Q at t + 1."""

import warnings

import numpy as np
import pytest
from _naive import cumulative_projection, linearity, rank_share, spectrum

from skfeat import FeatureSpectrum, save_run, write_report
from skfeat.inspection import feature_record, layerwise_report
from skfeat.inspection._record import geometry_record
from skfeat.metrics import (
    ClassMoments,
    between_class_discrimination,
    get_scorer,
    make_quality_scorer,
    neural_collapse,
    target_linearity,
    within_class_compression,
)
from skfeat.metrics._records import COLUMNS
from skfeat.metrics._targets import read_at


def _regression(seed=0, n=160, p=6, t=1):
    rng = np.random.default_rng(seed)
    Phi = rng.normal(size=(n, p)) + 0.5
    W = rng.normal(size=(p, t))
    Y = Phi @ W + 0.3 * rng.normal(size=(n, t))
    return Phi[:100], Phi[100:], Y[:100], Y[100:]


def _naive_E(Phi_train, Phi_test):
    lam, V = spectrum(Phi_train)
    return Phi_test @ V / np.sqrt(lam)


def test_read_at_is_C_for_classes_and_t_plus_one_for_values():
    assert read_at(4, "classes") == 4 and read_at(2, "values") == 3
    with pytest.raises(ValueError, match="target_type"):
        read_at(2, "auto")


@pytest.mark.parametrize("t", [1, 3])
def test_record_reads_regression_at_t_plus_one_naive(t):
    Phi_train, Phi_test, Y_train, Y_test = _regression(t=t)
    y_test = Y_test[:, 0] if t == 1 else Y_test
    F = Y_test + 0.1
    record = feature_record(Phi_train, Phi_test, y_test, F, y_train=Y_train)
    E = _naive_E(Phi_train, Phi_test)
    Q = cumulative_projection(E, Y_test)
    U = cumulative_projection(E, F)
    assert record["target_type"] == "values" and record["n_targets"] == t
    np.testing.assert_allclose(record["cumulative_quality"], Q, atol=1e-10)
    assert record["quality_at_C"] == pytest.approx(Q[t], abs=1e-10)
    assert record["utility_at_C"] == pytest.approx(U[t], abs=1e-10)
    # Geometry of real targets: rank and target linearity, no class columns.
    assert record["target_linearity"] == pytest.approx(
        linearity(Phi_train, Y_train), abs=1e-10
    )
    assert record["numerical_rank"] == rank_share(Phi_train, 0.95)
    for key in ("compression", "discrimination", "nc1"):
        assert key not in record
    assert set(record) <= set(COLUMNS)


def test_whole_number_floats_warn_once_unless_target_type_says():
    Phi_train, Phi_test, Y_train, Y_test = _regression()
    y_train, y_test = np.round(3 * Y_train[:, 0]), np.round(3 * Y_test[:, 0])
    with pytest.warns(UserWarning, match="whole numbers") as caught:
        record = feature_record(Phi_train, Phi_test, y_test, y_train=y_train)
    assert len(caught) == 1 and record["target_type"] == "classes"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = feature_record(
            Phi_train, Phi_test, y_test, y_train=y_train, target_type="values"
        )
    assert values["target_type"] == "values" and values["n_targets"] == 1
    assert "nc1" not in values


@pytest.mark.parametrize("t", [1, 2])
def test_score_and_quality_scorer_read_values_at_t_plus_one(t):
    Phi_train, Phi_test, Y_train, Y_test = _regression(t=t)
    y_test = Y_test[:, 0] if t == 1 else Y_test
    fitted = FeatureSpectrum().fit(Phi_train)
    Q = cumulative_projection(_naive_E(Phi_train, Phi_test), Y_test)
    assert fitted.score(Phi_test, y_test) == pytest.approx(Q[t] / t, abs=1e-10)
    for scorer in (get_scorer("quality"), make_quality_scorer()):
        assert scorer(fitted, Phi_test, y_test) == pytest.approx(Q[t] / t, abs=1e-10)
    # An explicit k is taken as given.
    assert make_quality_scorer(k=1)(fitted, Phi_test, y_test) == pytest.approx(
        Q[0] / t, abs=1e-10
    )
    # Classes are still read at C.
    labels = (Y_test[:, 0] > np.median(Y_test[:, 0])).astype(int)
    Qc = cumulative_projection(_naive_E(Phi_train, Phi_test), np.eye(2)[labels])
    assert fitted.score(Phi_test, labels) == pytest.approx(Qc[1] / 2, abs=1e-10)


def test_score_of_a_near_perfect_regression_is_near_one():
    # The symptom: a target linear in the features, one near-constant
    # eigenfunction first; Q(t)/t was far below 1, Q(t + 1)/t is ~1.
    rng = np.random.default_rng(3)
    Phi = np.c_[np.ones(400), rng.normal(size=(400, 1))] + 0.01 * rng.normal(
        size=(400, 2)
    )
    y = 2 + Phi[:, 1]
    fitted = FeatureSpectrum().fit(Phi[:300])
    assert fitted.score(Phi[300:], y[300:]) > 0.99
    Q = fitted.projection_measures(Phi[300:], y[300:]).cumulative_quality
    assert Q[0] < 0.9


@pytest.mark.parametrize(
    "measure", [within_class_compression, between_class_discrimination, neural_collapse]
)
def test_class_only_measures_refuse_real_targets_naming_target_type(measure):
    rng = np.random.default_rng(0)
    H = rng.normal(size=(40, 3))
    with pytest.raises(ValueError, match="target_type='auto' read them as 'values'"):
        measure(H, rng.normal(size=40))
    with pytest.raises(ValueError, match="target_type='values'"):
        measure(H, rng.integers(0, 3, size=40), target_type="values")
    with pytest.raises(ValueError, match="class labels"):
        measure(H, rng.normal(size=(40, 2)))
    # "classes" reads whole-number floats as labels, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        measure(H, rng.integers(0, 3, size=40).astype(float), target_type="classes")


def test_class_moments_refuse_fractional_targets_and_stay_unchanged():
    rng = np.random.default_rng(0)
    H = rng.normal(size=(10, 3))
    acc = ClassMoments().update(H, np.arange(10) % 2)
    with pytest.raises(ValueError, match="target_type='values'"):
        acc.update(H, rng.normal(size=10))
    assert acc.n_samples_ == 10


def test_geometry_record_of_values_matches_target_linearity():
    Phi_train, _, Y_train, _ = _regression(t=2)
    record = geometry_record(Phi_train, Y_train)
    assert set(record) == {"numerical_rank", "target_linearity"}
    assert record["target_linearity"] == pytest.approx(
        target_linearity(Phi_train, Y_train, target_type="values"), abs=1e-12
    )
    # Both against the dense reference, not only each other.
    Y = np.asarray(Y_train, dtype=np.float64).reshape(len(Y_train), -1)
    assert record["target_linearity"] == pytest.approx(
        linearity(Phi_train, Y), rel=1e-6
    )
    assert record["numerical_rank"] == rank_share(Phi_train, 0.95)


class _Layers:
    def extract(self, X):
        return {"raw": X, "squared": X**2}


def test_layerwise_report_with_continuous_targets():
    pd = pytest.importorskip("pandas")
    Phi_train, Phi_test, Y_train, Y_test = _regression()
    y_train, y_test = Y_train[:, 0], Y_test[:, 0]
    rows = layerwise_report(_Layers(), Phi_train, y_train, Phi_test, y_test)
    for row, H in zip(rows, (Phi_train, Phi_train**2)):
        assert row["target_type"] == "values" and row["n_targets"] == 1
        assert row["target_linearity"] == pytest.approx(
            linearity(H, y_train), abs=1e-10
        )
        assert "compression" not in row and "nc1" not in row
    # Linear targets: target linearity of the raw features near 1 (not 0.25).
    assert rows[0]["target_linearity"] > 0.8
    frame = layerwise_report(
        _Layers(), Phi_train, y_train, Phi_test, y_test, as_frame=True
    )
    assert isinstance(frame, pd.DataFrame) and "nc1" not in frame.columns
    # Whole-number targets read as values when told: no warning, no classes.
    whole = np.round(y_train * 4), np.round(y_test * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        told = layerwise_report(
            _Layers(), Phi_train, whole[0], Phi_test, whole[1], target_type="values"
        )
    assert told[0]["target_type"] == "values"
    with pytest.raises(ValueError, match="target_type"):
        layerwise_report(
            _Layers(), Phi_train, y_train, Phi_test, y_test, target_type="x"
        )


def test_report_target_type_and_cli_option(tmp_path):
    from skfeat.cli import main

    Phi_train, Phi_test, Y_train, Y_test = _regression(t=2)
    whole_train, whole_test = np.round(Y_train[:, 0]), np.round(Y_test[:, 0])
    path = save_run(tmp_path / "run", Phi_train, Phi_test, whole_train, whole_test)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = write_report(path, tmp_path / "a", target_type="values")
    text = open(report, encoding="utf-8").read()
    assert "C = t = 1 target column" in text and "| NC1 |" not in text
    with pytest.warns(UserWarning, match="whole numbers"):
        text = open(write_report(path, tmp_path / "b"), encoding="utf-8").read()
    assert "classes." in text and "NC1" in text
    with pytest.raises(ValueError, match="target_type"):
        write_report(path, tmp_path / "c", target_type="labels")
    # Multi-output targets: t = 2, read at 3.
    multi = save_run(tmp_path / "multi", Phi_train, Phi_test, Y_train, Y_test)
    text = open(write_report(multi, tmp_path / "d"), encoding="utf-8").read()
    assert "C = t = 2 target columns, Q(C) and U(C) read at t + 1 = 3" in text
    assert main(["report", str(path), "--out", str(tmp_path / "e"),
                 "--target-type", "values"]) == 0  # fmt: skip
    assert "C = t = 1" in (tmp_path / "e" / "report.md").read_text()


def _entry_points():
    """Every entry point that reads y, as ``f(Phi_train, Phi_test, y, kw)``."""
    from skfeat.metrics import (
        cumulative_quality,
        feature_quality,
        projection_measures,
    )

    def spectrum_of(Phi_train):
        return FeatureSpectrum().fit(Phi_train)

    def E(Phi_train, Phi_test):
        return spectrum_of(Phi_train).transform(Phi_test)

    return {
        "feature_quality": lambda a, b, y, kw: feature_quality(E(a, b), y, **kw),
        "cumulative_quality": lambda a, b, y, kw: cumulative_quality(E(a, b), y, **kw),
        "projection_measures": lambda a, b, y, kw: (
            projection_measures(E(a, b), y, **kw).cumulative_quality
        ),
        "FeatureSpectrum.quality": lambda a, b, y, kw: spectrum_of(a).quality(
            b, y, **kw
        ),
        "FeatureSpectrum.score": lambda a, b, y, kw: spectrum_of(a).score(b, y, **kw),
        "FeatureSpectrum.projection_measures": lambda a, b, y, kw: (
            spectrum_of(a).projection_measures(b, y, **kw).cumulative_quality
        ),
        "make_quality_scorer": lambda a, b, y, kw: make_quality_scorer(**kw)(
            spectrum_of(a), b, y
        ),
        "target_linearity": lambda a, b, y, kw: target_linearity(b, y, **kw),
        "feature_record": lambda a, b, y, kw: feature_record(
            a, b, y, y_train=y[: len(a)] if len(y) >= len(a) else None, **kw
        )["quality_at_C"],
        "layerwise_report": lambda a, b, y, kw: layerwise_report(
            _Layers(), b, y, b, y, **kw
        )[1]["quality_at_C"],
    }


@pytest.mark.parametrize("name", sorted(_entry_points()))
def test_every_entry_point_takes_target_type(name):
    func = _entry_points()[name]
    Phi_train, Phi_test, _, Y_test = _regression()
    whole = np.round(2 * Y_test[:, 0])  # whole-number floats: a guess
    as_values = func(Phi_train, Phi_test, whole[:, None], {})  # a column: values
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        told = func(Phi_train, Phi_test, whole, {"target_type": "values"})
        classes = func(Phi_train, Phi_test, whole, {"target_type": "classes"})
    np.testing.assert_allclose(told, as_values, rtol=1e-12)
    with pytest.warns(UserWarning, match="whole numbers"):
        guessed = func(Phi_train, Phi_test, whole, {})
    np.testing.assert_allclose(guessed, classes, rtol=1e-12)
    with pytest.raises(ValueError, match="target_type"):
        func(Phi_train, Phi_test, whole, {"target_type": "regression"})
