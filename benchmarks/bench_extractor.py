"""Cost of FeatureExtractor and FeatureTracker next to what they wrap.

1. Extraction of one and of three layers vs a bare ``torch.no_grad`` forward
   in eval mode over the same batches (target: at most 1.15x).  Extraction
   makes one copy, each batch's activations into the output array, at hook
   time (in-place modules later in the forward pass cannot touch it); what
   remains is writing the 400 MB output, a memory-bound cost (the host
   buffer is ``torch.empty``'s: numpy's huge-page advice made the first write
   stall on memory compaction, 1.85x against 1.27x in one run).  A loader of
   unknown length is measured too: its batches are concatenated at the end,
   and rows are copied at hook time only for layers that an in-place module
   changes afterwards.
2. One FeatureTracker update (train + test extraction, spectrum, measures)
   vs one SGD epoch of the demo's CNN on scikit-learn's digits.

Run by hand: ``python benchmarks/bench_extractor.py [--n 2048] [--repeat 5]``.
The machine is noisy: every timing is the best of ``--repeat`` runs, and each
ratio compares timings taken in this same run.
"""

import argparse
import copy
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from skfeat.cli._demo import _cnn, _digits, _train_sgd
from skfeat.torch import FeatureExtractor, FeatureTracker


def best_of(repeat, funcs):
    """Best time of each function, run in interleaved rounds.

    Interleaving spreads the load of a busy machine evenly over the contenders,
    so that their ratios stay meaningful.
    """
    times = [[] for _ in funcs]
    for _ in range(repeat):
        for func, spent in zip(funcs, times):
            start = time.perf_counter()
            func()
            spent.append(time.perf_counter() - start)
    return [min(spent) for spent in times]


def image_cnn():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 256),
        nn.ReLU(inplace=True),
        nn.Linear(256, 10),
    )


def bench_extraction(n, batch_size, repeat):
    torch.manual_seed(0)
    net = image_cnn()
    X = np.random.default_rng(0).normal(size=(n, 3, 32, 32)).astype(np.float32)
    X_t = torch.from_numpy(X)

    def bare():
        net.eval()
        with torch.no_grad():
            for start in range(0, n, batch_size):
                net(X_t[start : start + batch_size])

    one = FeatureExtractor(net, batch_size=batch_size).fit(X)
    three = ["1", "4", "9:input"]

    def hand_written_three():
        # What users write by hand: forward hooks, clone, torch.cat at the end.
        chunks = {name: [] for name in ("1", "4", "9")}
        handles = [
            net[1].register_forward_hook(
                lambda m, a, out: chunks["1"].append(out.flatten(1).clone())
            ),
            net[4].register_forward_hook(
                lambda m, a, out: chunks["4"].append(out.flatten(1).clone())
            ),
            net[9].register_forward_pre_hook(
                lambda m, a: chunks["9"].append(a[0].flatten(1).clone())
            ),
        ]
        try:
            bare()
        finally:
            for handle in handles:
                handle.remove()
        return {name: torch.cat(c).numpy() for name, c in chunks.items()}

    class Stream(torch.utils.data.IterableDataset):
        """Ready-made batches of unknown number: concatenated at the end."""

        def __iter__(self):
            return (
                X_t[start : start + batch_size] for start in range(0, n, batch_size)
            )

    stream = torch.utils.data.DataLoader(Stream(), batch_size=None)

    bare()  # warm-up
    t_bare, t_one, t_tensor, t_three, t_hand, t_stream = best_of(
        repeat,
        [
            bare,
            lambda: one.transform(X),
            lambda: one.transform(X_t),
            lambda: one.extract(X, layers=three),
            hand_written_three,
            lambda: one.extract(stream, layers=three),
        ],
    )
    print(f"extraction: {n} images 3x32x32, batch {batch_size}, best of {repeat}")
    print(f"  {'bare no_grad forward':38}{t_bare:8.3f} s   1.00x")
    for label, t in (
        ("transform, 1 layer (numpy in)", t_one),
        ("transform, 1 layer (tensor in)", t_tensor),
        ("extract, 3 layers (32k+16k+256 feats)", t_three),
        ("hand-written hooks+clone+cat, 3 layers", t_hand),
        ("extract, 3 layers, loader of unknown n", t_stream),
    ):
        print(f"  {label:38}{t:8.3f} s   {t / t_bare:.2f}x")


def demo_epoch():
    """The reference epoch: one SGD epoch of the demo's CNN on digits.

    Returns ``(X_train, X_test, y_train, y_test), net, epoch``; the tracker
    the epoch runs with never measures (``every=10**9``).
    """
    X_train, X_test, y_train, y_test = _digits()
    torch.manual_seed(0)
    net = _cnn(torch)
    idle = FeatureTracker(X_train, y_train, X_test, y_test, every=10**9)

    def epoch():
        _train_sgd(net, X_train, y_train, 1, 0, idle, torch, lambda *a: None)

    return (X_train, X_test, y_train, y_test), net, epoch


def bench_tracker(repeat):
    (X_train, X_test, y_train, y_test), net, epoch = demo_epoch()

    measured = FeatureTracker(X_train, y_train, X_test, y_test)
    epochs = iter(range(10**9))

    def update():
        # Its own tracker, a new epoch each time: the training loop's tracker
        # has recorded epochs already, and a recorded epoch is skipped.
        measured.update(copy_net, epoch=next(epochs))

    epoch()  # warm-up (also trains a little, so the features are not at init)
    copy_net = copy.deepcopy(net)
    t_epoch, t_update = best_of(repeat, [epoch, update])
    print(f"tracker: demo CNN on digits ({len(X_train)} train, {len(X_test)} test)")
    print(f"  {'one SGD epoch (batch 64)':38}{t_epoch:8.3f} s   1.00x")
    print(
        f"  {'one tracker update (penultimate)':38}{t_update:8.3f} s   "
        f"{t_update / t_epoch:.2f}x"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        print(f"torch {torch.__version__}, {args.threads} thread(s)")
        bench_extraction(args.n, args.batch_size, args.repeat)
        bench_tracker(args.repeat)


if __name__ == "__main__":
    main()
