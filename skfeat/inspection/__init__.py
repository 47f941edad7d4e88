"""Where the spectrum, the measures and run files meet: the tables of skfeat.

:func:`feature_record` is the record of one feature map (one row of every
table); :func:`layerwise_report` gives one per layer of a network;
:func:`save_run` / :func:`load_run` write and read run files, and
:func:`write_report` turns one into ``report.md`` and plots.
"""

from ._layerwise import layerwise_report
from ._record import feature_record
from ._report import write_report
from ._runfile import RunFileError, load_run, save_run

__all__ = [
    "RunFileError",
    "feature_record",
    "layerwise_report",
    "load_run",
    "save_run",
    "write_report",
]
