"""Run files (``.npz``) and the ``skfeat report`` command.

A *run file* holds the features of a trained network on a training and a test
sample, the labels, and optionally the network's outputs on the test sample
and the features of further layers.  :func:`save_run` writes one,
:func:`load_run` reads and checks one (never unpickling anything), and
:func:`write_report` turns one into ``report.md`` and PNG plots; the command
``skfeat report RUN.npz --out DIR`` does the same from a shell.
"""

import argparse
import os
import re
import sys
import zipfile

import numpy as np

from .metrics._summary import feature_measures

__all__ = ["load_run", "save_run", "write_report"]

REQUIRED_KEYS = ("Phi_train", "Phi_test", "y_train", "y_test")
OPTIONAL_KEYS = ("outputs_test",)
# Row name of the main feature map (Phi_train / Phi_test) in the report.
MAIN_LAYER = "Phi"
_LAYER_KEY = re.compile(r"^layer/(?P<name>[^/]+)/(?P<part>Phi_train|Phi_test)$")

RUN_FORMAT = """\
RUN.npz format (numpy .npz, read with allow_pickle=False; no object arrays):
  Phi_train             (n, p)  features of the training sample (float)
  Phi_test              (m, p)  features of the test sample (float)
  y_train               (n,)    training labels (int or str) or (n, t) targets
  y_test                (m,)    test labels or (m, t) targets
  outputs_test          (m, C)  optional: the network's outputs on the test sample
  layer/NAME/Phi_train  (n, p_l) optional, per extra layer NAME
  layer/NAME/Phi_test   (m, p_l) optional, with its Phi_train
The report lists the extra layers in file order (input side first) and the main
feature map Phi last.
Write one from Python with skfeat.save_run(path, Phi_train, Phi_test, y_train,
y_test, outputs_test=..., layers={"NAME": (Phi_train, Phi_test)})."""

# One line per measure for the report: what the number means.
MEANINGS = {
    "D_lambda": "effective number of eigenvalues (1 + Hill number of "
    "lambda_2, lambda_3, ...): small = few dominant features.",
    "quality_at_C": "how much of the C-dimensional target space the first "
    "C eigenfunctions span on the test sample (C = perfect).",
    "D_q": "effective number of eigenfunctions that carry the target "
    "(Hill number of the qualities q_k).",
    "utility_at_C": "how much of the span of the network's outputs the "
    "first C eigenfunctions span (C outputs of rank C: C = all).",
    "D_u": "effective number of eigenfunctions the outputs use "
    "(Hill number of the utilities u_k).",
    "cka_mf": "1 - CKA between the feature kernel and the projector onto the "
    "outputs: 0 = the features are just the outputs (minimal features).",
    "regime": "MF (minimal-feature: ~C eigenfunctions carry the learned "
    "function) when CKA-MF <= 0.1, else EF (extended-feature).",
}

COLUMN_TITLES = {
    "D_lambda": "D_λ",
    "quality_at_C": "Q(C)",
    "D_q": "D_q",
    "utility_at_C": "U(C)",
    "D_u": "D_u",
    "cka_mf": "CKA-MF",
    "regime": "regime",
}


class RunFileError(ValueError):
    """A run file that cannot be read or does not follow the format."""


def save_run(
    path, Phi_train, Phi_test, y_train, y_test, *, outputs_test=None, layers=None
):
    """Write a run file for ``skfeat report``.

    The arrays are checked exactly as :func:`load_run` will check them, so a
    file that was written can always be read back.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.npz`` is appended by numpy when missing.
    Phi_train : array-like of shape (n, p)
        Features of the training sample (the spectrum is fitted on them).
    Phi_test : array-like of shape (m, p)
        Features of the held-out sample (the measures are evaluated on them).
    y_train : array-like of shape (n,) or (n, t)
        Training labels (int or str) or regression targets.
    y_test : array-like of shape (m,) or (m, t)
        Test labels or targets.
    outputs_test : array-like of shape (m, C), default=None
        The network's outputs (e.g. logits) on the test sample; needed for
        utility, CKA-MF and the regime.
    layers : dict of str to (Phi_train, Phi_test), default=None
        Features of further layers, same samples; names without ``/``.

    Returns
    -------
    path : str
        The path written.

    See Also
    --------
    load_run : Read a run file back.
    write_report : Turn a run file into a report.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skfeat import load_run, save_run
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=40)
    >>> Phi = rng.normal(size=(40, 5))
    >>> path = save_run(os.path.join(tempfile.mkdtemp(), "run"), Phi, Phi, y, y)
    >>> sorted(load_run(path))
    ['Phi_test', 'Phi_train', 'layers', 'outputs_test', 'y_test', 'y_train']
    """
    arrays = {
        "Phi_train": _to_numpy(Phi_train),
        "Phi_test": _to_numpy(Phi_test),
        "y_train": _to_numpy(y_train),
        "y_test": _to_numpy(y_test),
    }
    if outputs_test is not None:
        arrays["outputs_test"] = _to_numpy(outputs_test)
    for name, pair in (layers or {}).items():
        try:
            train, test = pair
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"layers[{name!r}] must be a pair (Phi_train, Phi_test)."
            ) from exc
        arrays[f"layer/{name}/Phi_train"] = _to_numpy(train)
        arrays[f"layer/{name}/Phi_test"] = _to_numpy(test)
    _check_run(arrays)
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    np.savez(path, **arrays)
    return path


def load_run(path):
    """Read and check a run file (``allow_pickle=False``).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` file in the format of :func:`save_run` (see
        ``skfeat report --help``).

    Returns
    -------
    run : dict
        ``Phi_train``, ``Phi_test``, ``y_train``, ``y_test``, ``outputs_test``
        (None when absent) and ``layers``, a dict of layer name to
        ``(Phi_train, Phi_test)``.

    Raises
    ------
    RunFileError
        (a :class:`ValueError`) with a one-line message when the file cannot be
        read, holds object arrays, misses a key, has an unknown key, or has
        arrays of inconsistent shapes or non-finite features.

    Examples
    --------
    >>> from skfeat import load_run
    >>> load_run("no-such-file.npz")
    Traceback (most recent call last):
    ...
    skfeat._report.RunFileError: cannot read no-such-file.npz: no such file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RunFileError(f"cannot read {path}: no such file.")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RunFileError(
            f"cannot read {path} as an .npz file: {_one_line(exc)}"
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise RunFileError(f"{path} is a single .npy array, not an .npz run file.")
    arrays = {}
    with data:
        for key in data.files:
            try:
                arrays[key] = data[key]
            except ValueError as exc:
                if "allow_pickle" not in str(exc):
                    raise RunFileError(
                        f"{path}: cannot read array {key!r}: {_one_line(exc)}"
                    ) from None
                raise RunFileError(
                    f"{path}: array {key!r} holds Python objects; run files must "
                    "hold plain numeric or string arrays (object arrays are never "
                    "unpickled)."
                ) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise RunFileError(
                    f"{path}: cannot read array {key!r}: {_one_line(exc)}"
                ) from None
    layers = _check_run(arrays, where=path)
    return {
        "Phi_train": arrays["Phi_train"],
        "Phi_test": arrays["Phi_test"],
        "y_train": arrays["y_train"],
        "y_test": arrays["y_test"],
        "outputs_test": arrays.get("outputs_test"),
        "layers": {
            name: (arrays[f"layer/{name}/Phi_train"], arrays[f"layer/{name}/Phi_test"])
            for name in layers
        },
    }


def write_report(run, out_dir, *, title=None, n_components=None):
    """Measure a run and write ``report.md`` and PNG plots to ``out_dir``.

    For the top layer (``Phi_*``) and every extra layer, the spectrum is
    fitted on the training features and the measures are evaluated on the test
    sample: ``D_lambda``, ``Q(C)``, ``D_q`` and, when the outputs are given,
    ``U(C)``, ``D_u``, CKA-MF and the regime: the record of
    :func:`skfeat.metrics.feature_measures`, as in
    :class:`skfeat.torch.FeatureTracker`.  The plots are
    ``spectrum.png`` (every layer's normalised spectrum), ``projection.png``
    (``Q(k)`` and ``U(k)`` of the top layer) and, with extra layers,
    ``layers.png`` (measures against depth).

    Parameters
    ----------
    run : str, os.PathLike or dict
        A run file (see :func:`save_run`) or the dict :func:`load_run` returns.
    out_dir : str or os.PathLike
        Directory to write to (created when missing).
    title : str, default=None
        Title of the report; the file name of the run by default.
    n_components : int or None, default=None
        Number of leading eigenfunctions the held-out measures are taken over
        (``None``: all numerically nonzero ones).  On ``m`` test samples each
        eigenfunction unrelated to the target keeps a chance floor
        ``q_k ~ C / m``, which dominates ``D_q`` and ``D_u`` when ``K`` is
        comparable to ``m``; to compare runs, use the same ``K`` much smaller
        than ``m`` (``skfeat demo`` uses ``m // 10``).  See
        :func:`skfeat.metrics.feature_measures`.

    Returns
    -------
    report_path : str
        Path of the written ``report.md``.

    See Also
    --------
    save_run : Write a run file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skfeat import save_run, write_report
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=60)
    >>> Phi = np.eye(3)[y] + 0.1 * rng.normal(size=(60, 3))
    >>> tmp = tempfile.mkdtemp()
    >>> path = save_run(os.path.join(tmp, "run"), Phi, Phi, y, y)
    >>> report = write_report(path, os.path.join(tmp, "report"))
    >>> sorted(os.listdir(os.path.dirname(report)))
    ['projection.png', 'report.md', 'spectrum.png']
    """
    if title is None:
        title = os.path.basename(os.fspath(run)) if not isinstance(run, dict) else "run"
    if not isinstance(run, dict):
        run = load_run(run)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    # Extra layers in file order (input side first), the main feature map last.
    layers = dict(run["layers"])
    layers[MAIN_LAYER] = (run["Phi_train"], run["Phi_test"])
    records = [
        {
            "layer": name,
            **feature_measures(
                Phi_train,
                Phi_test,
                run["y_test"],
                run["outputs_test"],
                n_components=n_components,
            ),
        }
        for name, (Phi_train, Phi_test) in layers.items()
    ]
    plots = _write_plots(records, out_dir)
    lines = _markdown(title, run, records, plots)
    report_path = os.path.join(out_dir, "report.md")
    with open(report_path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return report_path


def _write_plots(records, out_dir):
    """Write the PNGs; returns {file name: caption} (empty without matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return {}
    from .plotting import LayerDisplay, ProjectionDisplay, SpectrumDisplay

    plots = {}
    n_classes = records[0]["n_classes"]
    # Figures without pyplot: no global backend state, nothing left open.
    figure = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = figure.subplots()
    for record in records:
        SpectrumDisplay.from_eigenvalues(
            record["eigenvalues"],
            n_classes=n_classes,
            name=record["layer"],
            normalize=len(records) > 1,
            ax=ax,
        )
    figure.savefig(os.path.join(out_dir, "spectrum.png"), dpi=110)
    plots["spectrum.png"] = "Eigenvalues of the training second moment"

    figure = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = figure.subplots()
    top = next(record for record in records if record["layer"] == MAIN_LAYER)
    quality = top["cumulative_quality"]
    ProjectionDisplay(
        quality, top.get("cumulative_utility"), n_classes=n_classes, name="Phi"
    ).plot(ax=ax, xscale="log" if quality.size > 50 else "linear")
    figure.savefig(os.path.join(out_dir, "projection.png"), dpi=110)
    plots["projection.png"] = "Cumulative quality Q(k) and utility U(k), test sample"

    if len(records) > 1:
        metrics = [m for m in COLUMN_TITLES if m != "regime" and m in records[0]]
        n_cols = min(len(metrics), 3)
        n_rows = -(-len(metrics) // n_cols)
        figure = Figure(figsize=(3.6 * n_cols, 3.0 * n_rows), layout="constrained")
        grid = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
        for extra in grid[len(metrics) :]:
            extra.set_visible(False)
        LayerDisplay.from_history(records, metrics=metrics, axes=grid[: len(metrics)])
        figure.savefig(os.path.join(out_dir, "layers.png"), dpi=110)
        plots["layers.png"] = "Measures against depth"
    return plots


def _markdown(title, run, records, plots):
    n, p = run["Phi_train"].shape
    m = run["Phi_test"].shape[0]
    columns = [c for c in COLUMN_TITLES if any(c in r for r in records)]
    lines = [
        f"# skfeat report: {title}",
        "",
        f"{n} training samples, {m} test samples, {p} features, "
        f"C = {records[0]['n_classes']}.  The spectrum is fitted on the training "
        "features; the other measures are evaluated on the test sample.",
        "",
        "| layer | features | " + " | ".join(COLUMN_TITLES[c] for c in columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for record in records:
        cells = [_cell(record.get(c)) for c in columns]
        lines.append(
            f"| {record['layer']} | {record['n_features']} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "## What the numbers mean", ""]
    lines += [f"- **{COLUMN_TITLES[c]}**: {MEANINGS[c]}" for c in columns]
    if run["outputs_test"] is None:
        lines.append(
            "- Utility, CKA-MF and the regime need `outputs_test` in the run file."
        )
    if plots:
        lines += ["", "## Plots", ""]
        for file_name, caption in plots.items():
            lines += [f"![{caption}]({file_name})", ""]
    else:
        lines += ["", "(No plots: install matplotlib, the `plot` extra.)"]
    return lines


def _cell(value):
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return f"{value:.3g}"


def add_report_arguments(parser):
    """Add the arguments of ``skfeat report`` to ``parser``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = RUN_FORMAT
    parser.add_argument("run", metavar="RUN.npz", help="the run file to report on")
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="skfeat-report",
        help="directory for report.md and the PNG plots (default: skfeat-report)",
    )
    parser.add_argument(
        "--n-components",
        metavar="K",
        type=_positive_int,
        default=None,
        help="take the held-out measures over the first K eigenfunctions "
        "(default: all); use the same K << number of test samples to compare runs",
    )


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def run_report(args):
    """Run ``skfeat report``: exit status 0, or 1 with a one-line message."""
    try:
        path = write_report(args.run, args.out, n_components=args.n_components)
    except (ValueError, TypeError, OSError) as exc:
        print(f"skfeat report: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _check_run(arrays, where="run"):
    """Check keys, dtypes and shapes of a run; return the extra layer names."""
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise RunFileError(
            f"{where}: missing key(s) {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED_KEYS)})."
        )
    layers = {}
    for key in arrays:
        if key in REQUIRED_KEYS or key in OPTIONAL_KEYS:
            continue
        match = _LAYER_KEY.match(key)
        if match is None:
            raise RunFileError(
                f"{where}: unexpected key {key!r} (see `skfeat report --help` "
                "for the format)."
            )
        layers.setdefault(match["name"], set()).add(match["part"])
    for name, parts in layers.items():
        if parts != {"Phi_train", "Phi_test"}:
            (missing_part,) = {"Phi_train", "Phi_test"} - parts
            raise RunFileError(f"{where}: missing key layer/{name}/{missing_part}.")
    n = _check_features(arrays, "Phi_train", where)
    m = _check_features(arrays, "Phi_test", where)
    if arrays["Phi_train"].shape[1] != arrays["Phi_test"].shape[1]:
        raise RunFileError(
            f"{where}: Phi_train has {arrays['Phi_train'].shape[1]} features but "
            f"Phi_test has {arrays['Phi_test'].shape[1]}."
        )
    _check_targets(arrays, "y_train", n, where)
    _check_targets(arrays, "y_test", m, where)
    if "outputs_test" in arrays:
        outputs = arrays["outputs_test"]
        if outputs.dtype.kind not in "iuf" or outputs.ndim not in (1, 2):
            raise RunFileError(
                f"{where}: outputs_test must be a 1-D or 2-D numeric array; got "
                f"dtype {outputs.dtype}, shape {outputs.shape}."
            )
        if outputs.shape[0] != m:
            raise RunFileError(
                f"{where}: outputs_test has {outputs.shape[0]} rows but Phi_test "
                f"has {m}."
            )
        if not np.all(np.isfinite(outputs)):
            raise RunFileError(f"{where}: outputs_test contains NaN or infinity.")
    for name in layers:
        _check_features(arrays, f"layer/{name}/Phi_train", where, rows=n)
        _check_features(arrays, f"layer/{name}/Phi_test", where, rows=m)
        p_train = arrays[f"layer/{name}/Phi_train"].shape[1]
        p_test = arrays[f"layer/{name}/Phi_test"].shape[1]
        if p_train != p_test:
            raise RunFileError(
                f"{where}: layer {name!r} has {p_train} features in Phi_train but "
                f"{p_test} in Phi_test."
            )
    return list(layers)


def _check_features(arrays, key, where, rows=None):
    Phi = arrays[key]
    if Phi.dtype.kind not in "iuf":
        raise RunFileError(f"{where}: {key} must be numeric; got dtype {Phi.dtype}.")
    if Phi.ndim != 2:
        raise RunFileError(f"{where}: {key} must be 2-D; got shape {Phi.shape}.")
    if Phi.shape[0] < 2 or Phi.shape[1] < 1:
        raise RunFileError(
            f"{where}: {key} needs at least 2 samples and 1 feature; got shape "
            f"{Phi.shape}."
        )
    if rows is not None and Phi.shape[0] != rows:
        base = "Phi_train" if key.endswith("Phi_train") else "Phi_test"
        raise RunFileError(
            f"{where}: {key} has {Phi.shape[0]} rows but {base} has {rows}."
        )
    if not np.all(np.isfinite(Phi)):
        raise RunFileError(f"{where}: {key} contains NaN or infinity.")
    return Phi.shape[0]


def _check_targets(arrays, key, rows, where):
    y = arrays[key]
    if y.dtype.kind not in "biufUS" or y.ndim not in (1, 2):
        raise RunFileError(
            f"{where}: {key} must be 1-D labels or 2-D numeric targets; got dtype "
            f"{y.dtype}, shape {y.shape}."
        )
    if y.shape[0] != rows:
        base = "Phi_train" if key == "y_train" else "Phi_test"
        raise RunFileError(
            f"{where}: {key} has {y.shape[0]} entries but {base} has {rows} rows."
        )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise RunFileError(f"{where}: {key} contains NaN or infinity.")


def _to_numpy(array):
    """Host numpy copy of an array of any namespace (small to moderate runs)."""
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "__array_namespace__"):
        from .utils._array_api import namespace_and_device, to_host

        return to_host(array, namespace_and_device(array)[0])
    return np.asarray(array)


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__
