"""Hostile inputs: one clear error each, no state left by a failed call.

One test per example of the reliability issue (the numeric range has its own
module, tests/test_range.py).
"""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from skfeat import FeatureSpectrum, save_run, write_report
from skfeat.cli import main
from skfeat.inspection import RunFileError, feature_record
from skfeat.metrics import (
    ClassMoments,
    between_class_discrimination,
    cumulative_quality,
    get_scorer,
    neural_collapse,
    numerical_rank,
    target_linearity,
    within_class_compression,
)


def blobs(n=60, p=5, K=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    return 2 * rng.normal(size=(K, p))[y] + rng.normal(size=(n, p)), y


# -- state after a failed call ------------------------------------------------


def _state(est):
    return {
        key: (value.copy() if isinstance(value, np.ndarray) else value)
        for key, value in vars(est).items()
        if not key.startswith("_")
    }


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
        else:
            assert a[key] == b[key], key


def test_failed_partial_fit_leaves_the_estimator_as_it_was():
    """Regression: a failed partial_fit left an object whose transform raised
    AttributeError."""
    X, _ = blobs()
    est = FeatureSpectrum()
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(np.full((3, 5), np.nan))
    assert not hasattr(est, "n_samples_seen_")
    est.partial_fit(X[:30])
    before = _state(est)
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(np.vstack([X[30:40], np.full((1, 5), np.inf)]))
    _same(before, _state(est))
    est.partial_fit(X[30:])
    np.testing.assert_allclose(
        est.eigenvalues_, FeatureSpectrum().fit(X).eigenvalues_, rtol=1e-10
    )


@pytest.mark.parametrize("solver", ["gram", "dual", "svd", "randomized"])
def test_failed_fit_after_a_good_one_changes_nothing(solver):
    """Regression: the next partial_fit claimed a randomized fit, or leaked the
    rejected rows into the accumulator (n_samples_seen_ 120, [zeros; X])."""
    X, _ = blobs(p=5)
    k = 2 if solver == "randomized" else None
    est = FeatureSpectrum(k, solver=solver, random_state=0).fit(X)
    before = _state(est)
    bad = X.copy()
    bad[5, 1] = np.nan
    for rejected in (bad, np.zeros((60, 5)), X[:1]):
        with pytest.raises(ValueError):
            est.fit(rejected)
        _same(before, _state(est))
    if solver != "randomized":
        est.partial_fit(X)
        assert est.n_samples_seen_ == 120


@pytest.mark.parametrize("solver", ["gram", "dual", "svd", "randomized"])
def test_data_frames_keep_their_names_without_a_warning(solver):
    pd = pytest.importorskip("pandas")
    X, _ = blobs(n=40, p=5)
    frame = pd.DataFrame(X if solver != "dual" else X[:4], columns=list("abcde"))
    k = 2 if solver == "randomized" else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = FeatureSpectrum(k, solver=solver, random_state=0).fit(frame)
        est.transform(frame)
    assert list(est.feature_names_in_) == list("abcde")


# -- inputs that slipped through or crashed deep inside ---------------------------


def test_numeric_strings_are_refused_whatever_the_array_dtype():
    X, y = blobs()
    for strings in (X.astype(str), X.astype(str).astype(object)):
        with pytest.raises(TypeError, match="strings"):
            FeatureSpectrum().fit(strings)
        with pytest.raises(TypeError, match="strings"):
            cumulative_quality(strings, y)
        with pytest.raises(TypeError, match="strings"):
            within_class_compression(strings, y)


@pytest.mark.parametrize("fmt", ["coo", "csc", "csr", "lil"])
def test_sparse_formats_in_the_geometry_functions(fmt):
    """Regression: coo_matrix crashed with 'not subscriptable'."""
    H, y = blobs()
    S = sp.random(60, 5, density=0.5, random_state=0, format=fmt) + sp.coo_matrix(H)
    dense = S.toarray()
    assert within_class_compression(S.asformat(fmt), y) == pytest.approx(
        within_class_compression(dense, y)
    )
    assert numerical_rank(S.asformat(fmt)) == numerical_rank(dense)
    assert target_linearity(S.asformat(fmt), y) == pytest.approx(
        target_linearity(dense, y)
    )


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.array([0, "a"] * 30, dtype=object), "mixes labels"),
        (np.array([0, None] * 30, dtype=object), "None"),
        (np.array([0.5, 1.5, 2.25] * 20), "fractional|regression"),
        (np.arange(60), "as many samples"),
    ],
    ids=["mixed", "none", "continuous", "one-per-sample"],
)
def test_labels_that_are_not_class_labels(labels, match):
    """Regression: mixed or None labels crashed in numpy's sort; continuous
    labels read as perfect collapse (compression and NC1 0.0)."""
    H, _ = blobs()
    for measure in (within_class_compression, between_class_discrimination):
        with pytest.raises((TypeError, ValueError), match=match):
            measure(H, labels)
    with pytest.raises((TypeError, ValueError), match=match):
        neural_collapse(H, labels)


def test_three_dimensional_targets_are_refused():
    H, y = blobs()
    with pytest.raises(ValueError, match="1-D or 2-D"):
        target_linearity(H, np.zeros((60, 2, 2)))


def test_quality_scorer_without_targets_says_so():
    """Regression: get_scorer('quality')(est, X, None) raised AttributeError
    from inside scikit-learn."""
    X, _ = blobs()
    with pytest.raises(ValueError, match="needs the targets"):
        get_scorer("quality")(FeatureSpectrum().fit(X), X, None)


def test_class_moments_before_any_update():
    """Regression: ClassMoments() before update raised TypeError."""
    empty = ClassMoments()
    for measure in (
        empty.within_class_compression,
        empty.between_class_discrimination,
        empty.numerical_rank,
        empty.neural_collapse,
        empty.target_linearity,
    ):
        with pytest.raises(ValueError, match="No samples seen yet"):
            measure()
    with pytest.raises(ValueError, match="No samples seen yet"):
        empty.nearest_class_mean(np.ones((2, 3)))
    assert empty.n_samples_ == 0 and empty.classes_.size == 0


def test_failed_class_moments_update_changes_nothing():
    H, y = blobs()
    acc = ClassMoments().update(H[:30], y[:30])
    before = (acc.n_samples_, acc.classes_.tolist(), acc.means_.copy())
    bad = H[30:].copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        acc.update(bad, y[30:] + 10)  # new labels too: none of them may stay
    assert (acc.n_samples_, acc.classes_.tolist()) == before[:2]
    np.testing.assert_array_equal(acc.means_, before[2])


def test_numerical_rank_function_and_method_agree_in_float32():
    rng = np.random.default_rng(1)
    H = (rng.normal(size=(300, 20)) * 0.7 ** np.arange(20)).astype(np.float32)
    y = np.arange(300) % 3
    for share in (0.5, 0.95, 1.0):
        assert numerical_rank(H, rank_share=share) == ClassMoments().update(
            H, y
        ).numerical_rank(share)


def test_zero_outputs_give_the_sentinel_in_records_reports_and_the_cli(tmp_path):
    """Regression: a zero-initialised read-out failed with 'v has no positive
    entry' in feature_measures, write_report and the CLI."""
    H, y = blobs(n=90)
    zeros = np.zeros((30, 3))
    with pytest.warns(UserWarning, match="zero"):
        record = feature_record(H[:60], H[60:], y[60:], zeros)
    assert record["D_u"] == 0.0 and record["regime"] == "EF"
    path = save_run(
        tmp_path / "run", H[:60], H[60:], y[:60], y[60:], outputs_test=zeros
    )
    with pytest.warns(UserWarning):
        report = write_report(path, tmp_path / "out")
    assert "| Phi |" in open(report, encoding="utf-8").read()
    with pytest.warns(UserWarning):
        assert main(["report", path, "--out", str(tmp_path / "cli")]) == 0


# -- run files and plots ----------------------------------------------------------


def test_save_run_refuses_what_write_report_refuses(tmp_path):
    H, y = blobs()
    with pytest.raises(RunFileError, match="y_train must be 1-D labels"):
        save_run(tmp_path / "run", H, H, np.array([["a", "b"]] * 60), y)
    assert not os.path.exists(tmp_path / "run.npz")


@pytest.mark.parametrize(
    "run",
    [
        {},
        {"Phi_train": np.ones((4, 2))},
        {
            "Phi_train": np.ones((4, 2)),
            "Phi_test": np.ones((4, 2)),
            "y_train": [0, 1, 0, 1],
            "y_test": [0, 1, 0, 1],
            "layers": [1, 2],
        },
    ],
    ids=["empty", "missing", "bad-layers"],
)
def test_write_report_on_a_malformed_dict(tmp_path, run):
    """Regression: write_report on a malformed dict raised KeyError."""
    with pytest.raises(RunFileError):
        write_report(run, tmp_path)


def test_failed_display_calls_leave_no_figure_open():
    plt = pytest.importorskip("matplotlib.pyplot")
    from skfeat.plotting import (
        LayerDisplay,
        ProjectionDisplay,
        SpectrumDisplay,
        TrainingDisplay,
    )

    plt.close("all")
    calls = [
        lambda: SpectrumDisplay([3.0, -1.0]).plot(),
        lambda: SpectrumDisplay([0.0, 0.0]).plot(),
        lambda: SpectrumDisplay([1.0, np.nan]).plot(),
        lambda: ProjectionDisplay([1.0, -1.0]).plot(),
        lambda: LayerDisplay(["a"], {"x": [1.0]}, depth=[1, 2]).plot(),
        lambda: TrainingDisplay([{"epoch": None, "layer": "a", "x": 1.0}]).plot(),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert plt.get_fignums() == []


def test_training_display_epoch_none_is_one_clear_error():
    pytest.importorskip("matplotlib")
    from skfeat.plotting import TrainingDisplay

    with pytest.raises(ValueError, match="record 1 has epoch=None"):
        TrainingDisplay.from_history(
            [
                {"epoch": 0, "layer": "a", "cka_mf": 0.3},
                {"epoch": None, "layer": "a", "cka_mf": 0.2},
            ]
        )


@pytest.mark.parametrize(
    "eigenvalues",
    [
        [1e308, 1e308],
        [2.0, 2.0, 2.0],
        [1.0, 1.0 + 1e-15, 1.0 - 1e-15],
        [5e-324, 5e-324],
    ],
    ids=["huge", "flat", "ulps", "denormal"],
)
@pytest.mark.parametrize("drop_first", [True, False])
def test_spectrum_display_on_flat_and_extreme_spectra(eigenvalues, drop_first):
    """Regression: [1e308, 1e308] raised from matplotlib; near-flat spectra
    warned about identical limits."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from skfeat.plotting import SpectrumDisplay

    raw = not drop_first
    if raw and not 1e-300 < eigenvalues[0] < 1e300:
        # Raw eigenvalues beyond a log axis: one clear error, no figure left.
        with pytest.raises(ValueError, match="beyond what a log axis draws"):
            SpectrumDisplay.from_eigenvalues(eigenvalues, drop_first=False)
        assert plt.get_fignums() == []
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        display = SpectrumDisplay.from_eigenvalues(eigenvalues, drop_first=drop_first)
        display.figure_.canvas.draw()
    low, high = display.ax_.get_ylim()
    assert 0 < low < high
    plt.close("all")


def test_finite_check_tells_overflowing_sums_from_infinities():
    # check_finite's fast path is one sum: finite entries whose sum overflows
    # (float32 near its largest value) must still pass, an infinity must not.
    from skfeat.utils._validation import check_finite

    big = np.full((4, 3), np.finfo(np.float32).max / 2, dtype=np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(big.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from the sum
        check_finite(big, "E")
    for bad in (np.inf, -np.inf, np.nan):
        broken = big.copy()
        broken[2, 1] = bad
        with pytest.raises(ValueError, match="E contains NaN or infinity"):
            check_finite(broken, "E")
    check_finite(np.zeros((0, 3), np.float32), "E")


def test_finite_check_of_finite_data_is_one_sum(monkeypatch):
    # The fast path: finite data are proved finite by their sum; the
    # element-wise isfinite (a boolean array as large as the data) only runs
    # when the sum is not finite.
    import skfeat.utils._validation as validation
    from skfeat.utils._array_api import namespace_and_device

    data = np.ones((50, 4), np.float32)
    xp, _ = namespace_and_device(data)
    shapes = []
    isfinite = xp.isfinite

    def recording(a, *args, **kwargs):
        shapes.append(np.shape(a))
        return isfinite(a, *args, **kwargs)

    monkeypatch.setattr(xp, "isfinite", recording)
    validation.check_finite(data, "E", xp)
    assert shapes == [()]
    with pytest.raises(ValueError, match="E contains NaN"):
        validation.check_finite(np.full((50, 4), np.nan, np.float32), "E", xp)
    assert shapes[-1] == (50, 4)
