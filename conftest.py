"""Root pytest configuration: shared by the test suite and the doctests.

scipy reads ``SCIPY_ARRAY_API`` once, at import, and scikit-learn refuses
``array_api_dispatch=True`` without it, so it is set here, before anything
imports scipy.
"""

import importlib.util
import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob.append("skfeat/torch/*")
