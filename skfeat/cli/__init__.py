"""The ``skfeat`` command line: ``skfeat demo`` and ``skfeat report``.

Each subcommand is a module of this package with ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; nothing else in skfeat
imports the command line.  Errors a user can mend (a bad argument, a file that
is not a run file) are one line on stderr and exit status 2, as argparse's
own.
"""

import argparse
import sys

__all__ = ["main"]


def _subcommands():
    from . import _demo, _report

    return {"demo": _demo, "report": _report}


def build_parser():
    """Return the argument parser of the ``skfeat`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with one subparser per subcommand.

    Examples
    --------
    >>> from skfeat.cli import build_parser
    >>> build_parser().parse_args(["demo", "--epochs", "3"]).epochs
    3
    """
    from skfeat import __version__

    parser = argparse.ArgumentParser(
        prog="skfeat",
        description="What features has a network learned? Spectrum, quality, "
        "utility and regime of a feature map.",
    )
    parser.add_argument("--version", action="version", version=f"skfeat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _subcommands().items():
        module.add_arguments(
            sub.add_parser(name, help=module.HELP, description=module.HELP)
        )
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
        0 on success, 2 for an error the user can mend (one line on stderr).

    Examples
    --------
    >>> from skfeat.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    skfeat 0.2.0.dev0
    """
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 0
    return _subcommands()[args.command].run(args)


def fail(command, message):
    """Print ``skfeat COMMAND: error: MESSAGE`` on one line; return status 2."""
    text = " ".join(str(message).split())
    print(f"skfeat {command}: error: {text}", file=sys.stderr)
    return 2
