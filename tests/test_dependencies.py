"""What `import skfeat` needs: the core dependencies, and nothing of the extras.

Each check runs in a fresh interpreter where the optional packages are made
unimportable (a meta-path finder that refuses them), as on a machine where
only ``pip install .`` ran.
"""

import subprocess
import sys
import textwrap

import pytest

OPTIONAL = ("pandas", "matplotlib", "torch", "tqdm", "dask", "cupy")

_BLOCK = textwrap.dedent(
    f"""
    import importlib.abc, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {OPTIONAL!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)")
            return None

    sys.meta_path.insert(0, Refuse())
    """
)


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
    )


def test_import_skfeat_needs_no_optional_package():
    result = _run(
        """
        import numpy as np
        import skfeat, skfeat.metrics, skfeat.inspection, skfeat.plotting
        import skfeat.datasets, skfeat.cli
        from skfeat import FeatureSpectrum
        from skfeat.inspection import feature_record

        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, 200)
        Phi = np.eye(3)[y] @ rng.normal(size=(3, 6)) + 0.1 * rng.normal(size=(200, 6))
        spectrum = FeatureSpectrum().fit(Phi[:120])
        record = feature_record(Phi[:120], Phi[120:], y[120:], Phi[120:, :3])
        assert record["regime"] in ("MF", "EF"), record
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_skfeat_loads_no_torch_and_no_matplotlib():
    # pandas is left out here: scikit-learn itself imports it when installed.
    code = (
        "import sys, skfeat, skfeat.metrics, skfeat.inspection, skfeat.plotting; "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "code, extra",
    [
        (
            "from skfeat.inspection import layerwise_report\n"
            "class L:\n"
            "    def extract(self, X):\n"
            "        return {'a': X}\n"
            "import numpy as np\n"
            "X = np.random.default_rng(0).normal(size=(40, 3)); y = np.arange(40) % 2\n"
            "layerwise_report(L(), X, y, X, y, as_frame=True)",
            "torch",
        ),
        (
            "from skfeat.plotting import SpectrumDisplay\n"
            "SpectrumDisplay.from_eigenvalues([3.0, 2.0, 1.0])",
            "plot",
        ),
        ("import skfeat.torch", "torch"),
    ],
    ids=["pandas", "matplotlib", "torch"],
)
def test_missing_optional_package_is_one_clear_line(code, extra):
    result = _run(code)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:") or last.startswith("ModuleNotFoundError")
    assert f"skfeat[{extra}]" in last, result.stderr


def test_report_without_matplotlib_writes_the_table_and_says_so(tmp_path):
    result = _run(
        f"""
        import numpy as np
        from skfeat import save_run, write_report
        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, 60)
        Phi = np.eye(3)[y] + 0.1 * rng.normal(size=(60, 3))
        path = save_run({str(tmp_path / "run")!r}, Phi, Phi, y, y)
        print(open(write_report(path, {str(tmp_path / "out")!r})).read())
        """
    )
    assert result.returncode == 0, result.stderr
    assert "No plots: install matplotlib, the `plot` extra" in result.stdout
