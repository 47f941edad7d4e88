"""Cost of FeatureTracker(alignment=True) next to a training epoch.

On the demo CNN and scikit-learn's digits, three tracked layers (the inputs of
``conv2``, ``fc`` and ``out``): one SGD epoch; a tracker update without the
NFA; with the NFA; with NFA and C-NFA; and a direct
:func:`skfeat.torch.alignment_per_layer` call on the same training inputs
(the peer: the update with alignment should cost about the plain update plus
this call).

Run by hand: ``python benchmarks/bench_tracker_alignment.py [--repeat 5]``.
The machine is noisy: every timing is the best of ``--repeat`` runs taken in
interleaved rounds, and each ratio compares timings of this same run.
"""

import argparse
import copy
import warnings

import torch
from bench_extractor import best_of  # the same interleaved rounds
from threadpoolctl import threadpool_limits

from skfeat.cli._demo import _cnn, _digits, _train_sgd
from skfeat.torch import FeatureTracker, alignment_per_layer

LAYERS = ["conv2:input", "fc:input", "out:input"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X_train, X_test, y_train, y_test = _digits()
    torch.manual_seed(0)
    net = _cnn(torch)
    init = {k: v.clone() for k, v in net.state_dict().items()}
    idle = FeatureTracker(X_train, y_train, X_test, y_test, every=10**9)
    # Warm-up; moves W.
    _train_sgd(net, X_train, y_train, 1, 0, idle, torch, lambda *a: None)
    trained = copy.deepcopy(net)

    def tracker(**kwargs):
        return FeatureTracker(X_train, y_train, X_test, y_test, layers=LAYERS, **kwargs)

    plain, nfa = tracker(), tracker(alignment=True)
    both = tracker(alignment=True, init_state=init)
    contenders = {
        "one SGD epoch (batch 64)": lambda: _train_sgd(
            net, X_train, y_train, 1, 0, idle, torch, lambda *a: None
        ),
        "tracker update, no alignment": lambda: plain.update(trained, 0),
        "tracker update, alignment (NFA)": lambda: nfa.update(trained, 0),
        "tracker update, NFA + C-NFA": lambda: both.update(trained, 0),
        "alignment_per_layer alone (peer)": lambda: alignment_per_layer(
            trained, X_train, ["conv2", "fc", "out"], batch_size=256
        ),
    }
    with threadpool_limits(args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        times = best_of(args.repeat, list(contenders.values()))
    print(f"torch {torch.__version__}, {args.threads} thread(s), best of {args.repeat}")
    print(f"demo CNN on digits: {len(X_train)} train, {len(X_test)} test; {LAYERS}")
    for label, t in zip(contenders, times):
        print(f"  {label:36}{t:8.3f} s   {t / times[0]:.2f}x epoch")
    extra = times[2] - times[1]
    print(f"  NFA part of the update: {extra:.3f} s = {extra / times[4]:.2f}x the peer")


if __name__ == "__main__":
    main()
