"""Fast checks of the documentation: one gallery example runs, the API page is
complete, the README says how to build the docs.  The full docs build (minutes)
is not part of the test run; see the README's Development section.
"""

import importlib.util
import os
import runpy

import matplotlib
import pytest

import skfeat.metrics

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_conf():
    spec = importlib.util.spec_from_file_location(
        "skfeat_docs_conf", os.path.join(ROOT, "docs", "conf.py")
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_api_page_lists_every_public_name(tmp_path):
    conf = _load_conf()
    conf._write_api_page(str(tmp_path))
    text = (tmp_path / "api.rst").read_text()
    import skfeat
    import skfeat.plotting

    for module in (skfeat, skfeat.metrics, skfeat.plotting):
        for name in module.__all__:
            if name.startswith("_"):
                continue
            assert f"   {name}\n" in text, f"{module.__name__}.{name} missing"
    assert ".. currentmodule:: skfeat.plotting" in text


def test_docstring_hook_escapes_fitted_attribute_names():
    conf = _load_conf()
    lines = [
        "array of shape (n_components_, n_features_in_)",
        "``eigenvalues_`` stays literal; D_lambda stays",
    ]
    conf._escape_attribute_names(None, "class", "x", None, None, lines)
    assert lines == [
        "array of shape (n_components\\_, n_features_in\\_)",
        "``eigenvalues_`` stays literal; D_lambda stays",
    ]


def test_readme_has_the_docs_command_outside_the_top_lines():
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().splitlines()
    development = lines.index("## Development")
    docs = [i for i, line in enumerate(lines) if "sphinx" in line and "docs" in line]
    assert docs and all(i > development for i in docs)


@pytest.mark.skipif(
    not hasattr(skfeat.metrics, "cumulative_quality"),
    reason="the projection measures are not merged into this branch yet",
)
def test_gallery_example_spectrum_trained_vs_frozen_runs(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    plt.close("all")
    runpy.run_path(
        os.path.join(ROOT, "examples", "plot_spectrum_trained_vs_frozen.py"),
        run_name="__main__",
    )
    figures = [plt.figure(n) for n in plt.get_fignums()]
    assert len(figures) == 2
    spectrum_ax, projection_ax = (fig.axes[0] for fig in figures)
    labels = [t.get_text() for t in spectrum_ax.get_legend().get_texts()]
    assert labels[0].startswith("trained") and labels[1].startswith("frozen")
    assert spectrum_ax.get_yscale() == "log"
    # Trained features: the first C = 10 eigenfunctions span the outputs
    # (U(10) = 10, minimal features) and most of the targets.
    quality, utility = projection_ax.get_lines()[:2]
    assert "quality" in quality.get_label() and "utility" in utility.get_label()
    assert utility.get_ydata()[9] == pytest.approx(10, abs=0.05)
    assert quality.get_ydata()[9] > 6
    plt.close("all")


def test_gallery_example_regression_sgd_vs_frozen_runs(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    plt.close("all")
    namespace = runpy.run_path(
        os.path.join(ROOT, "examples", "plot_regression_sgd_vs_frozen.py"),
        run_name="__main__",
    )
    assert len(plt.get_fignums()) == 2
    sgd, frozen = namespace["records"]["SGD"], namespace["records"]["frozen"]
    # Regression records: R^2, t = 1, Q read at t + 1, no class-only columns.
    for record in (sgd, frozen):
        assert record["target_type"] == "values" and record["n_targets"] == 1
        assert "nc1" not in record and "test_accuracy" not in record
        assert record["quality_at_C"] == record["cumulative_quality"][1]
    assert sgd["test_r2"] > frozen["test_r2"]
    assert sgd["quality_at_C"] > frozen["quality_at_C"]
    plt.close("all")


def _readme_block(heading):
    """The first ```python block after ``heading`` in the README."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split(heading, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_own_network_block_runs_as_pasted(capsys):
    """Regression: the block used undefined names (net, train_one_epoch)."""
    pytest.importorskip("torch")
    plt.close("all")
    namespace = {}
    exec(compile(_readme_block("## Your own network"), "README.md", "exec"), namespace)
    tracker = namespace["tracker"]
    epochs = [record["epoch"] for record in tracker.history]
    # The tracker's convention: before training, every 5th epoch, the final one.
    assert epochs == [0, 5, 10, 15, 20]
    assert "cka_mf" in capsys.readouterr().out
    plt.close("all")


def test_readme_model_selection_block_runs():
    namespace = {}
    exec(
        compile(_readme_block("## Measures and model selection"), "README.md", "exec"),
        namespace,
    )
    assert namespace["search"].best_params_ == {"featurespectrum__n_components": 4}
