"""Cost of one FeatureTracker update on a wide layer next to a training epoch.

Target (issue 18): one update on a ``p = 8192`` layer costs at most 0.5x one
SGD epoch of the demo's CNN on scikit-learn's digits (the reference epoch of
``benchmarks/bench_extractor.py``).  The wide layer is the flattened output
of a ``Conv2d(1, C, 3)`` on the same digits (``C * 8 * 8`` features:
``C = 128`` gives ``p = 8192``), so that the samples (1347 train, 450 test)
are those of the demo.

Rows, all timed in this run, as ratios to the epoch:

* one SGD epoch of the wide network itself (the network whose layer is
  tracked);
* the update with ``spectrum=FeatureSpectrum(n_components=K,
  solver="randomized")`` (the spectrum options the tracker passes through),
  without and with ``geometry=True`` (the geometry of a layer with ``p > n``
  is computed from the ``n x n`` side, never a ``p x p`` matrix);
* the floor of any update: one bare ``no_grad`` forward of the wide net over
  the train and test samples (an update must compute the layer on both);
* where the time of the geometry update goes: extraction (two forward
  passes), the randomized fit, the held-out projection measures, the
  geometry;
* with ``--dense``, the default ``FeatureSpectrum()`` too (a ``p x p``
  eigenproblem: minutes at ``p = 8192`` on a laptop).

Run by hand: ``python benchmarks/bench_tracker_wide.py [--channels 128]
[--repeat 3]``; a dry run at small size: ``--channels 16 --repeat 1``.
"""

import argparse
import copy

import torch
from bench_extractor import best_of, demo_epoch  # the same rounds and epoch
from threadpoolctl import threadpool_limits

from skfeat import FeatureSpectrum
from skfeat.cli._demo import _train_sgd
from skfeat.inspection._record import geometry_record
from skfeat.torch import FeatureExtractor, FeatureTracker


def wide_net(channels):
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(channels * 8 * 8, 10),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--components", type=int, default=45)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dense", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        run(args)


def run(args):
    (X_train, X_test, y_train, y_test), _, epoch = demo_epoch()
    idle = FeatureTracker(X_train, y_train, X_test, y_test, every=10**9)

    net = wide_net(args.channels)
    trained = wide_net(args.channels)
    p = args.channels * 64

    def wide_epoch():
        _train_sgd(trained, X_train, y_train, 1, 0, idle, torch, lambda *a: None)

    spectrum = FeatureSpectrum(
        n_components=args.components, solver="randomized", random_state=0
    )
    trackers = {
        "update, randomized spectrum": FeatureTracker(
            X_train, y_train, X_test, y_test, layers="1", spectrum=spectrum
        ),
        "update, randomized + geometry": FeatureTracker(
            X_train,
            y_train,
            X_test,
            y_test,
            layers="1",
            spectrum=spectrum,
            geometry=True,
        ),  # fmt: skip
    }
    if args.dense:
        trackers["update, FeatureSpectrum() (dense)"] = FeatureTracker(
            X_train, y_train, X_test, y_test, layers="1"
        )
    epochs = iter(range(10**9))

    def updater(tracker):
        return lambda: tracker.update(net, epoch=next(epochs))

    # Where the time of one geometry update goes.
    extractor = FeatureExtractor(net, layers="1").fit(X_train)
    state = {}

    def extract():
        state["train"] = extractor.transform(X_train)
        state["test"] = extractor.transform(X_test)
        state["outputs"] = extractor.outputs(X_test)

    def fit():
        state["fitted"] = copy.deepcopy(spectrum).fit(state["train"])

    def measures():
        state["fitted"].projection_measures(state["test"], y_test, state["outputs"])

    def geometry():
        geometry_record(state["train"], y_train)

    inputs = [torch.as_tensor(X, dtype=torch.float32) for X in (X_train, X_test)]

    def bare_forward():
        net.eval()
        with torch.no_grad():
            for X in inputs:
                for start in range(0, len(X), 256):
                    net(X[start : start + 256].reshape(-1, 1, 8, 8))

    epoch()  # warm-up
    extract()
    fit()
    labels = ["one SGD epoch, demo CNN (batch 64)", "one SGD epoch, the wide net"]
    labels += [*trackers]
    labels += ["  bare forward (train + test): the floor"]
    labels += ["  extraction (train + test)", "  randomized fit", "  held-out measures"]
    labels += ["  geometry (n x n side)"]
    funcs = [epoch, wide_epoch, *(updater(t) for t in trackers.values())]
    funcs += [bare_forward, extract, fit, measures, geometry]
    times = best_of(args.repeat, funcs)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s); digits: "
        f"{len(X_train)} train, {len(X_test)} test; wide layer p = {p}, "
        f"K = {args.components}; best of {args.repeat}"
    )
    for label, t in zip(labels, times):
        print(f"  {label:40}{t:8.3f} s   {t / times[0]:.2f}x")


if __name__ == "__main__":
    main()
