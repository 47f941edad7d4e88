"""``skfeat demo``: feature learning versus frozen features on scikit-learn's digits.

The paper's frozen-versus-SGD comparison (Nam et al., 2024, Figure 3) in
seconds on a CPU: one small CNN, initialised once, trained two ways --

* ``sgd``: every layer trained by SGD (squared loss on one-hot targets);
* ``frozen``: hidden layers kept at initialisation, only the last linear layer
  solved by least squares on one-hot targets (coefficient learning);

then the spectrum of the penultimate features (fitted on the training
images) and the quality, utility and CKA-MF measures on the test images.
torch and matplotlib are imported only when the demo runs.

Reading the numbers: the held-out measures (``Q``, ``U``, ``D_q``, ``D_u``)
are taken over the same number ``K = m // 10`` of leading eigenfunctions for
both networks (``m`` = 450 test images, so ``K`` = 45).  On ``m`` held-out
samples every eigenfunction unrelated to the labels keeps a chance floor
``q_k ~ C / m`` (about 0.02 here); summed over all of SGD's ~190 numerically
nonzero eigenfunctions that floor alone would make its ``D_q`` and ``D_u``
about 50, larger than the frozen network's, although ``Q(k)``, ``U(k)`` and
CKA-MF show SGD using C features.  Nam et al. (2024, App. H) read these
measures only for ``k`` much smaller than ``m`` for this reason; comparing
both networks over the same ``K`` is what makes their ``D_q`` comparable.
``D_lambda`` and ``rank`` are over the whole training spectrum.

Besides the table, the demo writes ``summary.json`` (every number of the
table), ``history.csv`` (the SGD network's record every 5 epochs, before
training and at the end included), four PNGs and one run file per network
(``run-sgd.npz``, ``run-frozen.npz``) that ``skfeat report`` reads as is.
"""

import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HELP = (
    "Train a small CNN on scikit-learn's digits two ways (SGD, frozen hidden "
    "layers) and compare their features: table, summary.json, run files and PNGs."
)

METHODS = ("sgd", "frozen")
#: The rows of the demo's table, all of them in summary.json.
SUMMARY_KEYS = (
    "train_accuracy",
    "test_accuracy",
    "rank",
    "D_lambda",
    "quality_at_C",
    "utility_at_C",
    "D_q",
    "D_u",
    "cka_mf",
    "regime",
)
# Width of the penultimate layer: wide enough that least squares on frozen
# random features fits the training set well, as in the paper's comparison.
WIDTH = 256
EVERY = 5


def add_arguments(parser):
    """Add the ``demo`` options to an :mod:`argparse` parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    parser.add_argument(
        "--out", default="skfeat-demo", help="output folder (default: skfeat-demo)"
    )
    parser.add_argument(
        "--epochs", type=int, default=20, help="SGD epochs, at least 1 (default: 20)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def run(args):
    """Run ``skfeat demo`` from parsed arguments; returns the exit status.

    Every argument is checked before anything is trained: a bad one is one
    line on stderr and exit status 2.

    Parameters
    ----------
    args : argparse.Namespace
        With ``out``, ``epochs`` and ``seed``.

    Returns
    -------
    status : int
        0 on success, 2 for a bad argument.
    """
    from . import fail

    start = time.perf_counter()
    if args.epochs < 1:
        return fail("demo", f"--epochs must be at least 1; got {args.epochs}")
    problem = _check_out(Path(args.out))
    if problem:
        return fail("demo", problem)
    try:
        import matplotlib  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return fail(
            "demo",
            f"the demo needs torch and matplotlib ({exc.name} is missing): "
            'pip install "skfeat[torch,plot]"',
        )
    run_demo(out=args.out, epochs=args.epochs, seed=args.seed, verbose=True)
    print(
        f"total time {time.perf_counter() - start:.1f} s (imports and plots included)"
    )
    return 0


def _check_out(out):
    """Return why ``out`` cannot be the output folder, or None."""
    if out.exists() and not out.is_dir():
        return f"--out {out} exists and is not a folder"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as exc:
        return f"--out {out} is not a writable folder ({exc.strerror or exc})"
    return None


def run_demo(out="skfeat-demo", *, epochs=20, seed=0, verbose=True):
    """Train a small CNN on digits two ways and measure its features.

    Parameters
    ----------
    out : str or path-like, default="skfeat-demo"
        Folder for ``summary.json``, ``history.csv``, the run files and the
        PNGs (created).
    epochs : int, default=20
        Epochs of SGD for the ``sgd`` network.
    seed : int, default=0
        Seed of the initialisation and of the minibatch order (the train/test
        split is fixed).
    verbose : bool, default=True
        Print one line per epoch, the summary table and the files written.

    Returns
    -------
    summary : dict
        ``{"sgd": {...}, "frozen": {...}}`` with the keys of ``SUMMARY_KEYS``
        (also written to ``summary.json``).

    References
    ----------
    .. [1] Nam, Mingard, Lee, Hayou, Louis. "Visualising feature learning in deep
       neural networks by diagonalizing the forward feature map", arXiv:2410.04264.

    Examples
    --------
    >>> from skfeat.cli._demo import run_demo
    >>> summary = run_demo("skfeat-demo", epochs=2, verbose=False)  # doctest: +SKIP
    >>> sorted(summary)  # doctest: +SKIP
    ['frozen', 'sgd']
    """
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    # One thread for torch and BLAS: the matrices are tiny, so extra threads
    # only add synchronisation; on a busy 2-core machine two threads made an
    # epoch 10x slower than one.
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            return _run(Path(out), epochs, seed, verbose, torch)
    finally:
        torch.set_num_threads(threads)


def _run(out, epochs, seed, verbose, torch):
    from skfeat import FeatureSpectrum, save_run
    from skfeat.torch import FeatureExtractor, FeatureTracker

    say = print if verbose else (lambda *a, **k: None)
    out.mkdir(parents=True, exist_ok=True)
    X_train, X_test, y_train, y_test = _digits()
    torch.manual_seed(seed)
    sgd_net = _cnn(torch)
    frozen_net = copy.deepcopy(sgd_net)
    # Both networks measured over the same K << m eigenfunctions (see above).
    spectrum = FeatureSpectrum(n_components=len(y_test) // 10)

    # (a) SGD on all layers; the tracker records the measures along the way.
    say(f"training the SGD network for {epochs} epochs on {len(y_train)} digits")
    sgd_tracker = FeatureTracker(
        X_train, y_train, X_test, y_test, every=EVERY, spectrum=spectrum
    )
    _train_sgd(sgd_net, X_train, y_train, epochs, seed, sgd_tracker, torch, say)
    sgd_record = sgd_tracker.history[-1]

    # (b) Hidden layers frozen at initialisation; last layer by least squares.
    say("solving the frozen network's read-out by least squares")
    Phi = FeatureExtractor(frozen_net).fit(X_train).transform(X_train)
    _least_squares_readout(frozen_net.out, Phi, y_train, torch)
    frozen_tracker = FeatureTracker(X_train, y_train, X_test, y_test, spectrum=spectrum)
    frozen_record = frozen_tracker.update(frozen_net, epoch=0)[0]

    records = {"sgd": sgd_record, "frozen": frozen_record}
    summary = {
        method: {key: _plain(records[method][key]) for key in SUMMARY_KEYS}
        for method in METHODS
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    sgd_tracker.to_frame().to_csv(out / "history.csv", index=False)
    runs = [
        _save_run(
            save_run, out / f"run-{method}.npz", net, X_train, X_test, y_train, y_test
        )
        for method, net in (("sgd", sgd_net), ("frozen", frozen_net))
    ]
    pngs = _plots(records, sgd_tracker, n_classes=10, out=out)
    if verbose:
        print()
        print(_table(summary))
        print(f"\nwrote {out / 'summary.json'}, {out / 'history.csv'}")
        print("      " + ", ".join(str(p) for p in [*runs, *pngs]))
        print(f"next: skfeat report {runs[0]} --out {out / 'report-sgd'}")
    return summary


def _save_run(save_run, path, net, X_train, X_test, y_train, y_test):
    """Write the penultimate features, labels and outputs of ``net`` as a run."""
    from skfeat.torch import FeatureExtractor

    extractor = FeatureExtractor(net).fit(X_train)
    return save_run(
        path,
        extractor.transform(X_train),
        extractor.transform(X_test),
        y_train,
        y_test,
        outputs_test=extractor.outputs(X_test),
    )


def _digits():
    """Digits as 1 x 8 x 8 float32 images in [0, 1], fixed stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return train_test_split(
        images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )


def _cnn(torch):
    nn = torch.nn

    class DigitsCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(32 * 4 * 4, WIDTH)
            self.out = nn.Linear(WIDTH, 10)

        def forward(self, x):
            h = torch.relu(self.conv1(x))
            h = self.pool(torch.relu(self.conv2(h))).flatten(1)
            return self.out(torch.relu(self.fc(h)))

    return DigitsCNN()


def _train_sgd(net, X, y, epochs, seed, tracker, torch, say):
    """SGD with the tracker's epoch convention: epoch 0 (before) to the last."""
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    optimizer = torch.optim.SGD(
        net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4
    )
    generator = torch.Generator().manual_seed(seed)
    # Squared loss on one-hot targets: the loss that the frozen network's
    # least-squares read-out minimises, so the two methods differ only in
    # whether the features may move.  (With cross-entropy the same network
    # stays at CKA-MF ~ 0.18, EF, from epoch 10 to 60 in our runs.)
    targets = torch.eye(10)[y]
    tracker.update(net, epoch=0)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        net.train()
        total, count = 0.0, 0
        for batch in torch.randperm(len(X), generator=generator).split(64):
            optimizer.zero_grad()
            residual = net(X[batch]) - targets[batch]
            loss = residual.pow(2).sum(dim=1).mean()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(batch), count + len(batch)
        records = tracker.update(net, epoch=epoch, force=epoch == epochs)
        line = f"epoch {epoch:3d}/{epochs}  loss {total / count:.4f}"
        if records:
            r = records[0]
            line += f"  test acc {r['test_accuracy']:.3f}  CKA-MF {r['cka_mf']:.3f}"
        say(f"{line}  ({time.perf_counter() - start:.1f} s)")
        sys.stdout.flush()


def _least_squares_readout(linear, Phi, y, torch):
    """Set ``linear`` to the least-squares fit of one-hot ``y`` on ``[Phi, 1]``."""
    design = np.hstack([Phi.astype(np.float64), np.ones((len(Phi), 1))])
    onehot = np.eye(linear.out_features)[y]
    coef, *_ = np.linalg.lstsq(design, onehot, rcond=None)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(coef[:-1].T))
        linear.bias.copy_(torch.from_numpy(coef[-1]))


def _plain(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


def _table(summary):
    lines = [f"{'':16}{'sgd':>10}{'frozen':>10}"]
    for key in SUMMARY_KEYS:
        a, b = summary["sgd"][key], summary["frozen"][key]
        if isinstance(a, str) or isinstance(a, int):
            lines.append(f"{key:16}{a:>10}{b:>10}")
        else:
            lines.append(f"{key:16}{a:>10.3f}{b:>10.3f}")
    return "\n".join(lines)


def _plots(records, tracker, *, n_classes, out):
    """Draw the four figures with the Displays; returns the paths written."""
    from matplotlib.figure import Figure

    from skfeat.plotting import ProjectionDisplay, SpectrumDisplay

    colors = {"sgd": "tab:blue", "frozen": "tab:orange"}
    names = {"sgd": "SGD, all layers", "frozen": "frozen hidden layers"}
    n_components = records["sgd"]["cumulative_quality"].size
    written = []

    # Figures without pyplot: no global backend state, nothing left open.
    figure, ax = _figure(Figure)
    ax.set_title(
        f"Spectrum of the penultimate features (train), first K = {n_components}"
    )
    for method, record in records.items():
        SpectrumDisplay(
            record["eigenvalues"],
            n_classes=n_classes,
            effective_dimension=record["D_lambda"],
            name=f"{names[method]}, rank {record['rank']}",
        ).plot(ax=ax, color=colors[method])
    written.append(_save(figure, out / "spectrum.png"))

    for name in ("quality", "utility"):
        figure, ax = _figure(Figure)
        ax.set_title(
            f"Cumulative {name} on the test images, first K = {n_components}\n"
            "eigenfunctions (spectrum fitted on train)"
        )
        for method, record in records.items():
            curves = {name: record[f"cumulative_{name}"]}
            ProjectionDisplay(**curves, n_classes=n_classes, name=names[method]).plot(
                ax=ax, xscale="log", color=colors[method]
            )
        ax.set_ylim(0, n_classes * 1.05)
        written.append(_save(figure, out / f"{name}.png"))

    figure, ax = _figure(Figure)
    tracker.plot(metrics=("test_accuracy", "cka_mf"), ax=ax, marker="o")
    ax.axhline(0.1, color="grey", ls=":", label="MF threshold (CKA-MF = 0.1)")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.set_title("SGD network during training (test images)")
    written.append(_save(figure, out / "training.png"))
    return written


def _figure(Figure):
    figure = Figure(figsize=(5.5, 4), layout="constrained")
    return figure, figure.subplots()


def _save(figure, path):
    figure.savefig(os.fspath(path), dpi=110)
    return path
