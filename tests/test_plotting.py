"""Tests of skfeat.plotting: the drawn data, scales, labels and reference marks."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from _naive import cumulative_projection as naive_cumulative  # noqa: E402
from _naive import hill  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skfeat import FeatureSpectrum  # noqa: E402
from skfeat.plotting import (  # noqa: E402
    LayerDisplay,
    ProjectionDisplay,
    SpectrumDisplay,
    TrainingDisplay,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _features(n=120, p=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, p)) * 0.6 ** np.arange(p) + 0.5


def test_importing_skfeat_does_not_import_matplotlib():
    code = (
        "import sys, skfeat, skfeat.plotting; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=".")


# -- SpectrumDisplay -------------------------------------------------------


def test_spectrum_display_draws_eigenvalues_on_log_scale():
    Phi = _features()
    display = SpectrumDisplay.from_estimator(
        FeatureSpectrum().fit(Phi), n_classes=3, name="run", drop_first=False
    )
    # Independent reference: squared singular values of the uncentred Phi over n.
    expected = np.linalg.svd(Phi, compute_uv=False) ** 2 / len(Phi)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(1, 9))
    np.testing.assert_allclose(display.line_.get_ydata(), expected, rtol=1e-10)
    assert display.ax_.get_yscale() == "log"
    assert display.ax_.get_xscale() == "linear"
    assert display.ax_.get_xlabel() == "index $k$"
    assert "lambda_k" in display.ax_.get_ylabel()
    assert display.figure_ is display.ax_.figure
    # k = C marked by a vertical line at x = 3.
    assert list(display.class_line_.get_xdata()) == [3, 3]
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    d_lambda = 1 + hill(expected[1:])
    assert labels == [f"run ($D_\\lambda$ = {d_lambda:.1f})", "$k = C = 3$"]


def test_spectrum_display_reads_the_spectrum_as_d_lambda_does():
    """By default: shares among lambda_2.. from k = 2, lambda_1 marked apart.

    With lambda_1 carrying most of tr G, a flat (extended-feature) spectrum
    lies above a concentrated one after k = C, as D_lambda says.
    """
    lam = np.array([90.0, 4.0, 3.0, 2.0, 1.0])
    display = SpectrumDisplay.from_eigenvalues(lam, n_classes=2, name="run")
    np.testing.assert_array_equal(display.line_.get_xdata(), [2, 3, 4, 5])
    np.testing.assert_allclose(display.line_.get_ydata(), lam[1:] / lam[1:].sum())
    np.testing.assert_array_equal(display.first_marker_.get_xdata(), [1])
    np.testing.assert_allclose(display.first_marker_.get_ydata(), [90.0 / 10.0])
    assert display.first_marker_.get_markerfacecolor() == "none"
    label = display.ax_.get_legend().get_texts()[0].get_text()
    assert (
        label
        == f"run ($D_\\lambda$ = {1 + hill(lam[1:]):.1f}, $\\lambda_1$ 90% of tr $G$)"
    )
    flat = SpectrumDisplay.from_eigenvalues([94.0, 1.5, 1.5, 1.5, 1.5], ax=display.ax_)
    # After k = C the flat spectrum lies above the concentrated one.
    assert flat.line_.get_ydata()[-1] > display.line_.get_ydata()[-1]


def test_spectrum_display_second_run_shares_axes_without_duplicate_marks():
    first = SpectrumDisplay.from_eigenvalues([4.0, 2.0, 1.0], n_classes=2, name="a")
    second = SpectrumDisplay.from_eigenvalues(
        [3.0, 0.5, 0.1], n_classes=2, name="b", ax=first.ax_
    )
    assert second.ax_ is first.ax_
    assert second.class_line_ is None
    # Two curves, their two lambda_1 marks, one k = C line.
    assert len(first.ax_.get_lines()) == 5
    labels = [t.get_text() for t in first.ax_.get_legend().get_texts()]
    # Runs first, the reference mark last.
    assert [label.split(" ")[0] for label in labels] == ["a", "b", "$k"]


def test_spectrum_display_normalize_and_zero_eigenvalues():
    display = SpectrumDisplay.from_eigenvalues(
        [6.0, 3.0, 1.0, 0.0], drop_first=False, normalize=True, xscale="log"
    )
    # The zero eigenvalue cannot be drawn on a log axis: it is left out.
    np.testing.assert_array_equal(display.line_.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(display.line_.get_ydata(), [0.6, 0.3, 0.1])
    assert display.ax_.get_xscale() == "log"
    display.figure_.canvas.draw()
    ticks = [t.get_text() for t in display.ax_.get_xticklabels() if t.get_text()]
    assert "1" in ticks  # plain numbers on the log index axis, not 10^0
    # D_lambda is scale invariant and reported for the raw values.
    label = display.ax_.get_legend().get_texts()[0].get_text()
    assert label == f"$D_\\lambda$ = {1 + hill([3.0, 1.0]):.1f}"


def test_spectrum_display_accepts_a_pipeline_and_own_axes():
    Phi = _features()
    pipe = make_pipeline(StandardScaler(with_mean=False), FeatureSpectrum()).fit(Phi)
    fig, ax = plt.subplots()
    display = SpectrumDisplay.from_estimator(pipe, ax=ax, color="red", drop_first=False)
    assert display.ax_ is ax and display.figure_ is fig
    np.testing.assert_allclose(
        display.line_.get_ydata(), pipe[-1].eigenvalues_, rtol=1e-12
    )
    assert display.line_.get_color() == "red"


def test_spectrum_display_bad_input():
    with pytest.raises(TypeError, match="FeatureSpectrum"):
        SpectrumDisplay.from_estimator(StandardScaler().fit(_features()))
    with pytest.raises(NotFittedError):
        SpectrumDisplay.from_estimator(FeatureSpectrum())
    with pytest.raises(ValueError, match="nonnegative"):
        SpectrumDisplay.from_eigenvalues([1.0, -1.0])
    with pytest.raises(ValueError, match="NaN"):
        SpectrumDisplay.from_eigenvalues([1.0, np.nan])
    with pytest.raises(ValueError, match="empty"):
        SpectrumDisplay.from_eigenvalues([])
    with pytest.raises(ValueError, match="at least 1"):
        SpectrumDisplay.from_eigenvalues([1.0], n_classes=0)


# -- ProjectionDisplay -----------------------------------------------------


def test_projection_display_draws_both_curves_and_marks():
    quality = [1.0, 1.5, 2.7, 3.0]
    utility = [1.0, 2.0, 3.0, 3.0]
    display = ProjectionDisplay(quality, utility, n_classes=3, name="net").plot()
    np.testing.assert_array_equal(display.quality_line_.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(display.quality_line_.get_ydata(), quality)
    np.testing.assert_array_equal(display.utility_line_.get_ydata(), utility)
    # One colour per run; utility dashed.
    assert display.utility_line_.get_color() == display.quality_line_.get_color()
    assert display.utility_line_.get_linestyle() == "--"
    assert list(display.level_line_.get_ydata()) == [3, 3]
    assert list(display.class_line_.get_xdata()) == [3, 3]
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels[:2] == ["net: quality $Q(k)$", "net: utility $U(k)$"]
    assert display.ax_.get_xlabel() == "number of eigenfunctions $k$"


def test_projection_display_several_runs_on_one_axes():
    first = ProjectionDisplay([1.0, 2.0], n_classes=2, name="trained").plot()
    second = ProjectionDisplay([0.5, 1.0], n_classes=2, name="frozen").plot(
        ax=first.ax_
    )
    assert second.level_line_ is None and second.class_line_ is None
    assert second.utility_line_ is None
    assert len(first.ax_.get_lines()) == 4
    assert second.quality_line_.get_color() != first.quality_line_.get_color()


def test_projection_display_bad_input():
    with pytest.raises(ValueError, match="neither"):
        ProjectionDisplay().plot()
    with pytest.raises(ValueError, match="nonnegative"):
        ProjectionDisplay([1.0, -0.5]).plot()
    with pytest.raises(ValueError, match="1-D"):
        ProjectionDisplay(np.ones((2, 2))).plot()


# -- LayerDisplay ----------------------------------------------------------


def test_layer_display_draws_one_panel_per_metric():
    display = LayerDisplay(
        ["conv1", "conv2", "fc"],
        {"D_lambda": [9.0, 5.0, 2.0], "cka_mf": [0.8, 0.4, 0.05]},
        name="trained",
    ).plot()
    assert len(display.axes_) == 2
    np.testing.assert_array_equal(display.lines_["D_lambda"].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(
        display.lines_["cka_mf"].get_ydata(), [0.8, 0.4, 0.05]
    )
    ticks = [t.get_text() for t in display.axes_[1].get_xticklabels()]
    assert ticks == ["conv1", "conv2", "fc"]
    assert display.axes_[0].get_ylabel() == r"$D_\lambda$ (eigenvalues)"
    assert display.axes_[0].get_legend().get_texts()[0].get_text() == "trained"
    assert display.axes_[1].get_legend() is None
    # A second run on the same axes.
    LayerDisplay(
        ["conv1", "conv2", "fc"],
        {"D_lambda": [9.0, 8.0, 7.0], "cka_mf": [0.9, 0.9, 0.9]},
        name="frozen",
    ).plot(axes=display.axes_)
    assert len(display.axes_[0].get_lines()) == 2


def test_layer_display_from_history_takes_last_epoch_and_fills_nan():
    history = [
        {"epoch": 0, "layer": "a", "D_lambda": 10.0, "regime": "EF"},
        {"epoch": 0, "layer": "b", "D_lambda": 12.0, "regime": "EF"},
        {"epoch": 3, "layer": "a", "D_lambda": 4.0, "cka_mf": 0.2, "regime": "EF"},
        {"epoch": 3, "layer": "b", "D_lambda": 2.0, "regime": "MF"},
    ]
    display = LayerDisplay.from_history(history)
    assert list(display.lines_) == ["D_lambda", "cka_mf"]  # "regime" is no number
    np.testing.assert_array_equal(display.lines_["D_lambda"].get_ydata(), [4.0, 2.0])
    np.testing.assert_array_equal(display.lines_["cka_mf"].get_ydata(), [0.2, np.nan])
    first = LayerDisplay.from_history(history, epoch=0, metrics=["D_lambda"])
    np.testing.assert_array_equal(first.lines_["D_lambda"].get_ydata(), [10.0, 12.0])


def test_layer_display_reads_a_layerwise_table():
    # Columns as in skfeat.metrics.layerwise_report: depth and p are no measures.
    table = [
        {"layer": "l1", "depth": 1, "p": 8, "compression": 1.0, "D_lambda": 5.0},
        {"layer": "l2", "depth": 2, "p": 8, "compression": 0.1, "D_lambda": 4.0},
        {"layer": "l3", "depth": 3, "p": 8, "compression": 0.01, "D_lambda": 3.0},
    ]
    display = LayerDisplay.from_history(table)
    assert list(display.lines_) == ["compression", "D_lambda"]
    # A geometric decay over depth is drawn on a log axis; others start at 0.
    assert display.axes_[0].get_yscale() == "log"
    assert display.axes_[1].get_yscale() == "linear"
    assert display.axes_[1].get_ylim()[0] <= 0


def test_layer_display_bad_input():
    with pytest.raises(ValueError, match="one value per layer"):
        LayerDisplay(["a", "b"], {"D_lambda": [1.0]}).plot()
    with pytest.raises(ValueError, match="unknown metric"):
        LayerDisplay(["a"], {"D_lambda": [1.0]}).plot(metrics=["D_q"])
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="3 axes"):
        LayerDisplay(["a"], {"D_lambda": [1.0]}).plot(axes=axes)
    with pytest.raises(ValueError, match="epoch=7"):
        LayerDisplay.from_history([{"epoch": 1, "layer": "a", "x": 1.0}], epoch=7)
    with pytest.raises(ValueError, match="'layer'"):
        LayerDisplay.from_history([{"epoch": 1, "x": 1.0}])
    with pytest.raises(ValueError, match="empty"):
        LayerDisplay.from_history([])


# -- TrainingDisplay -------------------------------------------------------


def _history():
    rng = np.random.default_rng(1)
    records = []
    for epoch in (4, 0, 2):  # out of order on purpose
        for layer in ("fc1", "fc2"):
            records.append(
                {
                    "epoch": epoch,
                    "layer": layer,
                    "D_lambda": float(rng.uniform(1, 10)),
                    "quality_at_C": float(rng.uniform(0, 3)),
                    "regime": "MF",
                }
            )
    return records


def test_training_display_one_line_per_layer_sorted_by_epoch():
    history = _history()
    display = TrainingDisplay.from_history(history, name="sgd")
    assert len(display.axes_) == 2
    line = display.lines_["D_lambda", "fc2"]
    np.testing.assert_array_equal(line.get_xdata(), [0.0, 2.0, 4.0])
    expected = [
        r["D_lambda"]
        for e in (0, 2, 4)
        for r in history
        if r["epoch"] == e and r["layer"] == "fc2"
    ]
    np.testing.assert_array_equal(line.get_ydata(), expected)
    assert display.axes_[1].get_ylabel() == "quality $Q(C)$"
    assert display.axes_[0].get_xlabel() == "epoch"
    labels = [t.get_text() for t in display.axes_[0].get_legend().get_texts()]
    assert labels == ["sgd fc1", "sgd fc2"]


def test_training_display_from_tracker_and_dataframe():
    pd = pytest.importorskip("pandas")

    class Tracker:
        history = _history()

    display = TrainingDisplay.from_tracker(
        Tracker(), metrics=["quality_at_C"], layers=["fc1"]
    )
    assert list(display.lines_) == [("quality_at_C", "fc1")]
    frame = TrainingDisplay.from_history(pd.DataFrame(_history()))
    np.testing.assert_array_equal(
        frame.lines_["D_lambda", "fc1"].get_ydata(),
        display_values(_history(), "D_lambda", "fc1"),
    )


def display_values(history, metric, layer):
    rows = sorted((r for r in history if r["layer"] == layer), key=lambda r: r["epoch"])
    return [r[metric] for r in rows]


def test_training_display_draws_a_shared_metric_once():
    history = [
        {"epoch": e, "layer": layer, "accuracy": a, "D_lambda": d + i}
        for e, a, d in [(0, 0.1, 9.0), (1, 0.7, 5.0)]
        for i, layer in enumerate(["fc1", "fc2"])
    ]
    display = TrainingDisplay.from_history(history)
    assert list(display.lines_) == [
        ("accuracy", "all layers"),
        ("D_lambda", "fc1"),
        ("D_lambda", "fc2"),
    ]
    np.testing.assert_array_equal(
        display.lines_["accuracy", "all layers"].get_ydata(), [0.1, 0.7]
    )
    np.testing.assert_array_equal(
        display.lines_["D_lambda", "fc2"].get_ydata(), [10.0, 6.0]
    )
    # One legend for the figure, on the panel that shows the layers.
    assert display.axes_[0].get_legend() is None
    assert display.axes_[1].get_legend() is not None


def test_training_display_without_layers_and_bad_input():
    history = [{"epoch": e, "accuracy": a} for e, a in [(0, 0.1), (1, 0.5)]]
    display = TrainingDisplay.from_history(history)
    np.testing.assert_array_equal(
        display.lines_["accuracy", None].get_ydata(), [0.1, 0.5]
    )
    assert display.axes_[0].get_legend() is None
    with pytest.raises(ValueError, match="'epoch'"):
        TrainingDisplay.from_history([{"layer": "a", "x": 1.0}])
    with pytest.raises(ValueError, match="unknown layer"):
        TrainingDisplay.from_history(history, layers=["nope"])
    with pytest.raises(TypeError, match="FeatureTracker"):
        TrainingDisplay.from_tracker(object())
    with pytest.raises(TypeError, match="list of dict"):
        TrainingDisplay.from_history(3)


# -- ProjectionDisplay from data (measures: skfeat's, or naive stand-ins) ----


def test_projection_display_from_estimator_matches_naive_projections():
    rng = np.random.default_rng(3)
    y_train = np.repeat([0, 1, 2], 30)
    y_test = np.tile([0, 1, 2], 20)
    centres = rng.normal(size=(3, 6)) * 3
    Phi_train = centres[y_train] + rng.normal(size=(90, 6))
    Phi_test = centres[y_test] + rng.normal(size=(60, 6))
    outputs = Phi_test @ rng.normal(size=(6, 3))
    spectrum = FeatureSpectrum().fit(Phi_train)
    display = ProjectionDisplay.from_estimator(
        spectrum, Phi_test, y_test, outputs=outputs, name="run"
    )
    # Independent eigenfunctions: dense SVD of the uncentred Phi_train.
    _, s, Vt = np.linalg.svd(Phi_train, full_matrices=False)
    E = Phi_test @ Vt.T / (s / np.sqrt(len(Phi_train)))
    one_hot = np.eye(3)[y_test]
    np.testing.assert_allclose(
        display.quality_line_.get_ydata(), naive_cumulative(E, one_hot), atol=1e-8
    )
    np.testing.assert_allclose(
        display.utility_line_.get_ydata(), naive_cumulative(E, outputs), atol=1e-8
    )
    # C is read from the labels; with a linear read-out U(6) = rank(outputs) = 3.
    assert list(display.level_line_.get_ydata()) == [3, 3]
    assert display.utility_line_.get_ydata()[-1] == pytest.approx(3.0)


def test_projection_display_needs_targets_or_outputs():
    with pytest.raises(ValueError, match="give y"):
        ProjectionDisplay.from_eigenfunctions(np.ones((5, 2)))


def test_training_display_from_a_real_tracker():
    torch = pytest.importorskip("torch")
    from skfeat.torch import FeatureTracker

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    tracker = FeatureTracker(X[:40], y[:40], X[40:], y[40:])
    for epoch in (0, 3):
        tracker.update(net, epoch=epoch)
    display = TrainingDisplay.from_tracker(tracker)
    drawn = {metric for metric, _ in display.lines_}
    # Curves (arrays), the regime label and the update's wall time are no panels.
    assert "seconds" not in drawn and "eigenvalues" not in drawn
    assert "regime" not in drawn
    assert {"D_lambda", "quality_at_C", "cka_mf", "test_accuracy"} <= drawn
    layer = tracker.history[0]["layer"]
    np.testing.assert_array_equal(
        display.lines_["D_lambda", layer].get_ydata(),
        [r["D_lambda"] for r in tracker.history],
    )


@settings(max_examples=25, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(1, 12),
        elements=st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False),
    ),
    st.floats(1e-3, 1e3),
)
def test_spectrum_display_is_scale_invariant_when_normalised(values, scale):
    lam = np.sort(values)[::-1]
    first = SpectrumDisplay.from_eigenvalues(lam, drop_first=False, normalize=True)
    second = SpectrumDisplay.from_eigenvalues(
        scale * lam, drop_first=False, normalize=True
    )
    np.testing.assert_allclose(first.line_.get_ydata(), lam / lam.sum())
    np.testing.assert_allclose(
        first.line_.get_ydata(), second.line_.get_ydata(), rtol=1e-12
    )
    # The default picture (shares among lambda_2..) is scale invariant too.
    np.testing.assert_allclose(
        SpectrumDisplay.from_eigenvalues(lam).line_.get_ydata(),
        SpectrumDisplay.from_eigenvalues(scale * lam).line_.get_ydata(),
        rtol=1e-12,
    )
    plt.close("all")


def test_displays_accept_torch_results_with_array_api_dispatch():
    torch = pytest.importorskip("torch")
    import sklearn

    rng = np.random.default_rng(5)
    Phi = rng.normal(size=(80, 5))
    y = rng.integers(0, 3, size=80)
    expected = np.linalg.svd(Phi, compute_uv=False) ** 2 / 80
    with sklearn.config_context(array_api_dispatch=True):
        spectrum = FeatureSpectrum().fit(torch.from_numpy(Phi))
        display = SpectrumDisplay.from_estimator(
            spectrum, n_classes=3, drop_first=False
        )
        projection = ProjectionDisplay.from_estimator(
            spectrum, torch.from_numpy(Phi), torch.from_numpy(y)
        )
    np.testing.assert_allclose(display.line_.get_ydata(), expected, rtol=1e-10)
    E = Phi @ np.linalg.svd(Phi, full_matrices=False)[2].T / np.sqrt(expected)
    np.testing.assert_allclose(
        projection.quality_line_.get_ydata(),
        naive_cumulative(E, np.eye(3)[y]),
        atol=1e-8,
    )
    assert list(projection.level_line_.get_ydata()) == [3, 3]
