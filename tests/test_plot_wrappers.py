"""One way to plot: the shortcuts (tracker.plot) draw through the Displays."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skfeat.plotting import LayerDisplay, TrainingDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


REPORT = [
    {"layer": "conv", "depth": 1, "p": 8, "compression": 1.0, "nc1": 2.0},
    {"layer": "fc1", "depth": 2, "p": 8, "compression": 0.2, "nc1": 0.5},
    {"layer": "fc2", "depth": 3, "p": 4, "compression": 0.04, "nc1": 0.1},
]

HISTORY = [
    {"epoch": e, "layer": layer, "cka_mf": c * scale, "test_accuracy": a}
    for e, c, a in ((0, 0.5, 0.2), (5, 0.2, 0.8), (10, 0.05, 0.9))
    for layer, scale in (("fc1", 1.0), ("fc2", 0.5))
]


def _artists(axes):
    return [
        (
            ax.get_yscale(),
            ax.get_xlabel(),
            [t.get_text() for t in ax.get_xticklabels()],
            [(list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.get_lines()],
        )
        for ax in axes
    ]


def test_layer_display_places_layers_at_their_depth():
    display = LayerDisplay.from_history(REPORT, metrics=["compression", "nc1"])
    axes = display.axes_
    # Layers sit at their depth, so fits against depth overlay the panels.
    np.testing.assert_array_equal(axes[0].lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(axes[1].lines[0].get_ydata(), [2.0, 0.5, 0.1])
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["conv", "fc1", "fc2"]
    assert [ax.get_yscale() for ax in axes] == ["log", "log"]


def test_layer_display_on_given_axes_and_bad_input():
    _, given = plt.subplots(1, 2)
    display = LayerDisplay.from_history(
        REPORT, metrics=["compression", "nc1"], axes=given
    )
    assert list(display.axes_) == list(given)
    with pytest.raises(ValueError, match="unknown metric"):
        LayerDisplay.from_history(REPORT, metrics=["D_q"])
    with pytest.raises(ValueError, match="2 panel"):
        LayerDisplay.from_history(
            REPORT, metrics=["compression", "nc1"], axes=given[:1]
        )


def test_layer_display_depth_positions():
    display = LayerDisplay(["a", "b"], {"D_q": [1.0, 2.0]}, depth=[2, 4]).plot()
    np.testing.assert_array_equal(display.lines_["D_q"].get_xdata(), [2.0, 4.0])
    with pytest.raises(ValueError, match="depth"):
        LayerDisplay(["a", "b"], {"D_q": [1.0, 2.0]}, depth=[1]).plot()
    # Records without a depth everywhere keep positions 0, 1, ...
    records = [dict(r) for r in REPORT]
    del records[1]["depth"]
    display = LayerDisplay.from_history(records, metrics=["nc1"])
    np.testing.assert_array_equal(display.lines_["nc1"].get_xdata(), [0, 1, 2])


def test_training_display_overlays_measures_on_one_axes():
    _, ax = plt.subplots()
    display = TrainingDisplay.from_history(
        HISTORY, metrics=["cka_mf", "test_accuracy"], axes=ax
    )
    assert all(a is ax for a in display.axes_)
    labels = [line.get_label() for line in ax.get_lines()]
    # cka_mf per layer; the accuracy is the same in every layer's record: once.
    assert labels == [
        "CKA-MF (0 = minimal features) fc1",
        "CKA-MF (0 = minimal features) fc2",
        "test accuracy",
    ]
    np.testing.assert_array_equal(
        display.lines_["test_accuracy", "all layers"].get_ydata(), [0.2, 0.8, 0.9]
    )
    assert ax.get_legend() is not None
    # Without a single axes: one panel per measure, as before.
    panels = TrainingDisplay.from_history(HISTORY, metrics=["cka_mf", "test_accuracy"])
    assert panels.axes_[0] is not panels.axes_[1]


def test_tracker_plot_is_the_training_display_on_one_axes():
    torch = pytest.importorskip("torch")
    from skfeat.torch import FeatureTracker

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    tracker = FeatureTracker(X[:40], y[:40], X[40:], y[40:])
    for epoch in range(2):
        tracker.update(net, epoch)
    ax = tracker.plot(metrics=("cka_mf", "D_lambda"))
    _, other = plt.subplots()
    TrainingDisplay.from_tracker(tracker, metrics=["cka_mf", "D_lambda"], axes=other)
    assert _artists([ax]) == _artists([other])
    assert [line.get_label() for line in ax.get_lines()] == [
        "CKA-MF (0 = minimal features)",
        r"$D_\lambda$ (eigenvalues)",
    ]


def test_importing_skfeat_metrics_does_not_import_matplotlib():
    code = (
        "import sys, skfeat, skfeat.metrics; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=".")
