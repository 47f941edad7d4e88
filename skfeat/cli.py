"""The ``skfeat`` command line.

Each subcommand registers itself in :data:`SUBCOMMANDS` as a pair of
functions: one that adds its arguments to an :mod:`argparse` parser, one that
runs it and returns the exit status.
"""

import argparse
import sys

__all__ = ["main"]

# name -> (help, add_arguments(parser), run(args) -> int)
SUBCOMMANDS = {}


def build_parser():
    """Return the argument parser of the ``skfeat`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="skfeat",
        description="What features has a network learned? Spectrum, quality, "
        "utility and regime of a feature map.",
    )
    parser.add_argument("--version", action="version", version=f"skfeat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _) in SUBCOMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None):
    """Run the ``skfeat`` command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success.

    Examples
    --------
    >>> from skfeat.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    skfeat 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 0
    return SUBCOMMANDS[args.command][2](args)


def _register_demo():
    from ._demo import add_demo_arguments, run_demo_command

    SUBCOMMANDS["demo"] = (
        "Train a small CNN on scikit-learn's digits two ways (SGD, frozen hidden "
        "layers) and compare their features: table, summary.json and PNGs.",
        add_demo_arguments,
        run_demo_command,
    )


_register_demo()


def _register_report():
    from ._report import add_report_arguments, run_report

    SUBCOMMANDS["report"] = (
        "Measure a run file (features, labels, outputs as .npz) and write "
        "report.md with PNG plots.",
        add_report_arguments,
        run_report,
    )


_register_report()
