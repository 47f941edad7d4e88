"""layerwise_report: one record per layer, geometry on train, spectrum held out."""

import numpy as np
import pytest
from _naive import geometry as naive_geometry
from _naive import linearity, target_matrix
from _naive import rank_share as naive_rank

from skfeat import FeatureSpectrum
from skfeat.inspection import feature_record, layerwise_report


def blobs(n=60, p=5, K=3, seed=9):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    centres = rng.normal(size=(K, p)) * 3
    return centres[y] + rng.normal(size=(n, p)), y


class StandIn:
    """A FeatureExtractor stand-in: three 'layers' of growing collapse."""

    def __init__(self, shrink=(1.0, 0.3, 0.05)):
        self.shrink = shrink

    def extract(self, X):
        H, y = X
        means = np.array([H[y == c].mean(axis=0) for c in np.unique(y)])
        return {
            f"layer{i}": means[y] + s * (H - means[y])
            for i, s in enumerate(self.shrink)
        }


def test_layerwise_report_columns_and_values():
    pd = pytest.importorskip("pandas")
    H, y = blobs(n=90)
    train, test = (H[:60], y[:60]), (H[60:], y[60:])
    report = layerwise_report(StandIn(), train, y[:60], test, y[60:], as_frame=True)
    assert isinstance(report, pd.DataFrame)
    assert list(report.columns) == [
        "layer", "depth", "n_features", "n_targets", "target_type", "rank",
        "D_lambda",
        "quality_at_C", "D_q", "compression", "discrimination",
        "numerical_rank", "nc1", "target_linearity",
    ]  # fmt: skip
    assert report["layer"].tolist() == ["layer0", "layer1", "layer2"]
    # Shrinking the within-class part by s scales compression by s^2.
    ratios = report["compression"].to_numpy() / report["compression"].iloc[0]
    np.testing.assert_allclose(ratios, np.array([1.0, 0.3, 0.05]) ** 2, rtol=1e-9)
    np.testing.assert_allclose(report["nc1"] / report["nc1"].iloc[0], ratios, rtol=1e-7)
    layer = StandIn().extract(train)["layer1"]
    row = report.iloc[1]
    # Geometry of the training features; the spectrum's measures held out:
    # the same record as feature_record, as every table of skfeat.
    assert row["compression"] == pytest.approx(
        naive_geometry(layer, y[:60])["compression"]
    )
    assert row["target_linearity"] == pytest.approx(
        linearity(layer, target_matrix(y[:60]))
    )
    assert row["numerical_rank"] == naive_rank(layer, 0.95)
    held_out = feature_record(layer, StandIn().extract(test)["layer1"], y[60:])
    assert row["quality_at_C"] == pytest.approx(held_out["quality_at_C"])
    assert row["D_lambda"] == pytest.approx(
        FeatureSpectrum().fit(layer).effective_dimension_
    )


def test_layerwise_report_as_list_and_errors():
    H, y = blobs(n=30, p=4, K=3)
    rows = layerwise_report(StandIn(), (H, y), y, (H, y), y)
    assert isinstance(rows, list) and rows[2]["depth"] == 3
    assert "eigenvalues" not in rows[0]  # a table of scalars
    with pytest.raises(TypeError, match="extract"):
        layerwise_report(object(), H, y, H, y)

    class Empty:
        def extract(self, X):
            return {}

    with pytest.raises(ValueError, match="no layers"):
        layerwise_report(Empty(), H, y, H, y)


def test_layerwise_report_flattens_conv_maps():
    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    maps = rng.normal(size=(20, 2, 3, 3)) + y[:, None, None, None]

    class Conv:
        def extract(self, X):
            return {"conv": maps}

    row = layerwise_report(Conv(), None, y, None, y)[0]
    assert row["n_features"] == 18
    flat = maps.reshape(20, -1)
    assert row["compression"] == pytest.approx(naive_geometry(flat, y)["compression"])


def test_layers_plot_against_depth():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skfeat.plotting import LayerDisplay

    H, y = blobs(n=30, p=4, K=3)
    report = layerwise_report(StandIn(), (H, y), y, (H, y), y)
    display = LayerDisplay.from_history(
        report, metrics=["compression", "discrimination"]
    )
    assert [a.get_yscale() for a in display.axes_] == ["log", "linear"]
    np.testing.assert_allclose(
        display.axes_[0].lines[0].get_ydata(), [r["compression"] for r in report]
    )
    with pytest.raises(ValueError, match="unknown metric"):
        LayerDisplay.from_history(report, metrics=["missing"])
    plt.close("all")
