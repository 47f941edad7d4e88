"""``report.md`` and PNG plots of a run: every layer's record, explained."""

import os

import numpy as np
from sklearn.utils._param_validation import HasMethods, StrOptions

from skfeat.metrics._records import COLUMNS
from skfeat.metrics._targets import resolve_target_type

from ._record import feature_record
from ._runfile import load_run, run_from_dict

__all__ = ["write_report"]

# Row name of the main feature map (Phi_train / Phi_test) in the report.
MAIN_LAYER = "Phi"
# Columns of the report's table, in order (those a run provides).
REPORT_COLUMNS = (
    "rank",
    "D_lambda",
    "quality_at_C",
    "D_q",
    "utility_at_C",
    "D_u",
    "cka_mf",
    "regime",
    "compression",
    "nc1",
    "target_linearity",
)


def write_report(run, out_dir, *, title=None, spectrum=None, target_type="auto"):
    """Measure a run and write ``report.md`` and PNG plots to ``out_dir``.

    For the top layer (``Phi_*``) and every extra layer, the record of
    :func:`feature_record`: the spectrum fitted on the training features
    (``rank``, ``D_lambda``), the measures of the test sample (``Q(C)``,
    ``D_q`` and, when the outputs are given, ``U(C)``, ``D_u``, CKA-MF and the
    regime) and the geometry of the training features (for class labels
    compression, NC1 and target linearity; for regression targets the target
    linearity, ``C`` being the target dimension ``t`` and ``Q``, ``U`` read at
    ``t + 1``) -- the same record as
    :class:`skfeat.torch.FeatureTracker`'s.  The plots are ``spectrum.png``
    (every layer's spectrum), ``projection.png`` (``Q(k)`` and ``U(k)`` of the
    top layer) and, with extra layers, ``layers.png`` (measures against depth);
    they need matplotlib (the ``plot`` extra), without which the report says
    so and has the table only.

    Parameters
    ----------
    run : str, os.PathLike or dict
        A run file (see :func:`save_run`) or the dict :func:`load_run` returns.
    out_dir : str or os.PathLike
        Directory to write to (created when missing).
    title : str, default=None
        Title of the report; the file name of the run by default.
    spectrum : FeatureSpectrum, default=None
        Template of the spectrum fitted per layer (see :func:`feature_record`),
        e.g. ``FeatureSpectrum(n_components=K)`` to take the held-out measures
        over the same ``K`` much smaller than the test sample for every run
        (``skfeat demo`` uses ``m // 10``).
    target_type : {"auto", "classes", "values"}, default="auto"
        How the run's ``y_train`` and ``y_test`` are read (see
        :ref:`target_type <target_type>`); ``"auto"`` decides from
        ``y_train``.

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
    if spectrum is not None and not HasMethods(["fit"]).is_satisfied_by(spectrum):
        raise TypeError(f"spectrum must be a FeatureSpectrum; got {spectrum!r}.")
    if not StrOptions({"auto", "classes", "values"}).is_satisfied_by(target_type):
        raise ValueError(
            f"target_type must be 'auto', 'classes' or 'values'; got {target_type!r}."
        )
    if isinstance(run, dict):
        title = "run" if title is None else title
        run = run_from_dict(run)
    else:
        title = os.path.basename(os.fspath(run)) if title is None else title
        run = load_run(run)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    _, kind = resolve_target_type(run["y_train"], target_type, "y_train")
    # Extra layers in file order (input side first), the main feature map last.
    layers = dict(run["layers"])
    layers[MAIN_LAYER] = (run["Phi_train"], run["Phi_test"])
    records = [
        {
            "layer": name,
            "depth": depth,
            **feature_record(
                Phi_train,
                Phi_test,
                run["y_test"],
                run["outputs_test"],
                y_train=run["y_train"],
                spectrum=spectrum,
                target_type=kind,
            ),
        }
        for depth, (name, (Phi_train, Phi_test)) in enumerate(layers.items(), 1)
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
    from skfeat.plotting import LayerDisplay, ProjectionDisplay, SpectrumDisplay

    plots = {}
    n_targets = records[0]["n_targets"]
    # Figures without pyplot: no global backend state, nothing left open.
    figure = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = figure.subplots()
    for record in records:
        SpectrumDisplay(
            record["eigenvalues"],
            n_classes=n_targets,
            effective_dimension=record["D_lambda"],
            name=record["layer"],
        ).plot(ax=ax)
    figure.savefig(os.path.join(out_dir, "spectrum.png"), dpi=110)
    plots["spectrum.png"] = "Eigenvalue shares of the training second moment"

    figure = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = figure.subplots()
    top = next(record for record in records if record["layer"] == MAIN_LAYER)
    quality = top["cumulative_quality"]
    ProjectionDisplay(
        quality, top.get("cumulative_utility"), n_classes=n_targets, name="Phi"
    ).plot(ax=ax, xscale="log" if quality.size > 50 else "linear")
    figure.savefig(os.path.join(out_dir, "projection.png"), dpi=110)
    plots["projection.png"] = "Cumulative quality Q(k) and utility U(k), test sample"

    if len(records) > 1:
        metrics = [m for m in REPORT_COLUMNS if m != "regime" and m in records[0]]
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
    columns = [c for c in REPORT_COLUMNS if any(c in r for r in records)]
    lines = [
        f"# skfeat report: {title}",
        "",
        f"{n} training samples, {m} test samples, {p} features, "
        + _targets_line(records[0])
        + "  The spectrum (and the geometry) is fitted on the training "
        "features; the other measures are evaluated on the test sample.",
        "",
        "| layer | features | " + " | ".join(COLUMNS[c].title for c in columns) + " |",
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
    lines += [f"- **{COLUMNS[c].title}**: {COLUMNS[c].meaning}" for c in columns]
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


def _targets_line(record):
    """Say what ``C`` is in this report: classes, or regression targets."""
    if record["target_type"] == "values":
        t = record["n_targets"]
        return (
            f"regression targets: C = t = {t} target column{'s' * (t > 1)}, "
            f"Q(C) and U(C) read at t + 1 = {t + 1} eigenfunctions (the "
            "near-constant first one carries none of a centred target); the "
            "class-only measures (compression, NC1) do not apply."
        )
    return f"C = {record['n_targets']} classes."


def _cell(value):
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.3g}"
