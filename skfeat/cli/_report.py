"""``skfeat report RUN.npz --out DIR``: a run file as report.md and plots."""

import argparse

HELP = (
    "Measure a run file (features, labels, outputs as .npz) and write "
    "report.md with PNG plots."
)


def add_arguments(parser):
    """Add the arguments of ``skfeat report`` to ``parser``."""
    from skfeat.inspection._runfile import RUN_FORMAT

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
        help="keep the first K eigenpairs, over which the held-out measures are "
        "taken (default: all); use the same K << number of test samples to "
        "compare runs",
    )
    parser.add_argument(
        "--solver",
        choices=("auto", "gram", "dual", "svd", "randomized"),
        default="auto",
        help="route of the spectrum's fit (see FeatureSpectrum); 'randomized' "
        "with --n-components K for wide layers (default: auto)",
    )
    parser.add_argument(
        "--random-state",
        metavar="SEED",
        type=int,
        default=None,
        help="seed of the randomized solver's sketch (default: none)",
    )
    parser.add_argument(
        "--target-type",
        choices=("auto", "classes", "values"),
        default="auto",
        help="how y_train / y_test are read: class labels, real regression "
        "targets, or decided from y_train (default: auto; whole-number floats "
        "are read as labels with a warning)",
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def run(args):
    """Run ``skfeat report``: exit status 0, or 2 with a one-line message."""
    from skfeat import FeatureSpectrum
    from skfeat.inspection import write_report

    from . import fail

    spectrum = FeatureSpectrum(
        n_components=args.n_components,
        solver=args.solver,
        random_state=args.random_state,
    )
    try:
        path = write_report(
            args.run, args.out, spectrum=spectrum, target_type=args.target_type
        )
    except (ValueError, TypeError, OSError) as exc:
        return fail("report", exc)
    print(f"wrote {path}")
    return 0
