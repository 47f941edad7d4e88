"""Optional dependencies: imported when used, with one clear line when missing."""

import importlib

__all__ = ["import_optional"]

# The extra of pyproject.toml that installs each optional package.
_EXTRAS = {
    "pandas": "torch",
    "matplotlib": "plot",
    "matplotlib.pyplot": "plot",
    "matplotlib.figure": "plot",
    "tqdm": "torch",
    "tqdm.auto": "torch",
    "torch": "torch",
    "dask": "dask",
    "dask.array": "dask",
    "cupy": "gpu",
}


def import_optional(name, purpose):
    """Import module ``name``, or raise an ImportError naming the extra to install.

    Parameters
    ----------
    name : str
        Module to import (``"pandas"``, ``"matplotlib.pyplot"``, ...).
    purpose : str
        What needs it, for the message (``"FeatureTracker.to_frame"``).

    Returns
    -------
    module : module
        The imported module.

    Examples
    --------
    >>> from skfeat.utils._optional import import_optional
    >>> import_optional("math", "an example").sqrt(4.0)
    2.0
    >>> import_optional("no_such_module", "an example")
    Traceback (most recent call last):
    ...
    ImportError: an example needs no_such_module, which is not installed: ...
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        extra = _EXTRAS.get(name)
        how = (
            f'install it with `pip install "skfeat[{extra}]"`'
            if extra
            else f"install it with `pip install {name.split('.')[0]}`"
        )
        raise ImportError(
            f"{purpose} needs {name.split('.')[0]}, which is not installed: {how}."
        ) from exc
