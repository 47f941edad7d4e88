"""Run files (``.npz``): the features, labels and outputs of a trained network.

A *run file* holds the features of a trained network on a training and a test
sample, the labels, and optionally the network's outputs on the test sample
and the features of further layers.  :func:`save_run` writes one,
:func:`load_run` reads and checks one (never unpickling anything); both apply
the same checks, so a file that was written can always be read back.
"""

import os
import re
import zipfile
import zlib

import numpy as np

from skfeat.utils._array_api import to_host

__all__ = ["RUN_FORMAT", "RunFileError", "load_run", "save_run"]

REQUIRED_KEYS = ("Phi_train", "Phi_test", "y_train", "y_test")
OPTIONAL_KEYS = ("outputs_test",)
_LAYER_KEY = re.compile(r"^layer/(?P<name>[^/]+)/(?P<part>Phi_train|Phi_test)$")

RUN_FORMAT = """\
RUN.npz format (numpy .npz, read with allow_pickle=False; no object arrays):
  Phi_train             (n, p)  features of the training sample (float)
  Phi_test              (m, p)  features of the test sample (float)
  y_train               (n,)    training labels (int or str) or (n, t) targets
  y_test                (m,)    test labels or (m, t) targets
  outputs_test          (m, C)  optional: the network's outputs on the test sample
  layer/NAME/Phi_train  (n, p_l) optional, per extra layer NAME
  layer/NAME/Phi_test   (m, p_l) optional, with its Phi_train
The report lists the extra layers in file order (input side first) and the main
feature map Phi last.
Write one from Python with skfeat.save_run(path, Phi_train, Phi_test, y_train,
y_test, outputs_test=..., layers={"NAME": (Phi_train, Phi_test)}); `skfeat demo`
writes one (run.npz in its output folder)."""


class RunFileError(ValueError):
    """A run file that cannot be read or does not follow the format.

    Its message is one line, naming the file and the problem.

    Examples
    --------
    >>> from skfeat.inspection import RunFileError
    >>> issubclass(RunFileError, ValueError)
    True
    """


def save_run(
    path, Phi_train, Phi_test, y_train, y_test, *, outputs_test=None, layers=None
):
    """Write a run file for ``skfeat report``.

    The arrays are checked exactly as :func:`load_run` will check them, so a
    file that was written can always be read back.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.npz`` is appended by numpy when missing.
    Phi_train : array-like of shape (n, p)
        Features of the training sample (the spectrum is fitted on them).
    Phi_test : array-like of shape (m, p)
        Features of the held-out sample (the measures are evaluated on them).
    y_train : array-like of shape (n,) or (n, t)
        Training labels (int or str) or regression targets.
    y_test : array-like of shape (m,) or (m, t)
        Test labels or targets.
    outputs_test : array-like of shape (m, C), default=None
        The network's outputs (e.g. logits) on the test sample; needed for
        utility, CKA-MF and the regime.
    layers : dict of str to (Phi_train, Phi_test), default=None
        Features of further layers, same samples; names without ``/``.

    Returns
    -------
    path : str
        The path written.

    See Also
    --------
    load_run : Read a run file back.
    write_report : Turn a run file into a report.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skfeat import load_run, save_run
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=40)
    >>> Phi = rng.normal(size=(40, 5))
    >>> path = save_run(os.path.join(tempfile.mkdtemp(), "run"), Phi, Phi, y, y)
    >>> sorted(load_run(path))
    ['Phi_test', 'Phi_train', 'layers', 'outputs_test', 'y_test', 'y_train']
    """
    arrays = {
        "Phi_train": _to_numpy(Phi_train),
        "Phi_test": _to_numpy(Phi_test),
        "y_train": _to_numpy(y_train),
        "y_test": _to_numpy(y_test),
    }
    if outputs_test is not None:
        arrays["outputs_test"] = _to_numpy(outputs_test)
    if layers is not None and not isinstance(layers, dict):
        raise TypeError(
            f"layers must be a dict of name to (Phi_train, Phi_test); got "
            f"{type(layers).__name__}."
        )
    for name, pair in (layers or {}).items():
        try:
            train, test = pair
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"layers[{name!r}] must be a pair (Phi_train, Phi_test)."
            ) from exc
        arrays[f"layer/{name}/Phi_train"] = _to_numpy(train)
        arrays[f"layer/{name}/Phi_test"] = _to_numpy(test)
    check_run(arrays, where="save_run")
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    np.savez(path, **arrays)
    return path


def load_run(path):
    """Read and check a run file (``allow_pickle=False``).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` file in the format of :func:`save_run` (see
        ``skfeat report --help``).

    Returns
    -------
    run : dict
        ``Phi_train``, ``Phi_test``, ``y_train``, ``y_test``, ``outputs_test``
        (None when absent) and ``layers``, a dict of layer name to
        ``(Phi_train, Phi_test)``.

    Raises
    ------
    RunFileError
        (a :class:`ValueError`) with a one-line message when the file cannot be
        read (missing, not an ``.npz``, truncated or corrupted), holds object
        arrays or members that are not ``.npy`` arrays, misses a key, has an
        unknown key, or has arrays of inconsistent shapes or non-finite
        features.

    Examples
    --------
    >>> from skfeat import load_run
    >>> load_run("no-such-file.npz")
    Traceback (most recent call last):
    ...
    skfeat.inspection._runfile.RunFileError: cannot read no-such-file.npz: no such file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RunFileError(f"cannot read {path}: no such file.")
    if not zipfile.is_zipfile(path):
        raise RunFileError(
            f"{path} is not an .npz run file (numpy's zip format); write one with "
            "skfeat.save_run or `skfeat demo`."
        )
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                arrays[key] = _member(data, key, path)
    except RunFileError:
        raise
    except (
        OSError,
        EOFError,
        ValueError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,
        KeyError,
    ) as exc:
        raise RunFileError(
            f"cannot read {path} as an .npz file (truncated or corrupted?): "
            f"{one_line(exc)}"
        ) from None
    layers = check_run(arrays, where=path)
    return {
        "Phi_train": arrays["Phi_train"],
        "Phi_test": arrays["Phi_test"],
        "y_train": arrays["y_train"],
        "y_test": arrays["y_test"],
        "outputs_test": arrays.get("outputs_test"),
        "layers": {
            name: (arrays[f"layer/{name}/Phi_train"], arrays[f"layer/{name}/Phi_test"])
            for name in layers
        },
    }


def _member(data, key, path):
    try:
        value = data[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        raise RunFileError(
            f"{path}: array {key!r} holds Python objects; run files must hold "
            "plain numeric or string arrays (object arrays are never unpickled)."
        ) from None
    if not isinstance(value, np.ndarray):
        raise RunFileError(
            f"{path}: member {key!r} is not a .npy array; run files hold only "
            "numpy arrays."
        )
    return value


def run_from_dict(run, where="run"):
    """Check a run given as a dict (the output of :func:`load_run`)."""
    if not isinstance(run, dict):
        raise TypeError(f"A run must be a path or a dict; got {type(run).__name__}.")
    missing = [key for key in (*REQUIRED_KEYS, "layers") if key not in run]
    if missing:
        raise RunFileError(
            f"{where}: the run dict misses {', '.join(missing)} (load_run's keys: "
            f"{', '.join((*REQUIRED_KEYS, 'outputs_test', 'layers'))})."
        )
    arrays = {key: _to_numpy(run[key]) for key in REQUIRED_KEYS}
    if run.get("outputs_test") is not None:
        arrays["outputs_test"] = _to_numpy(run["outputs_test"])
    layers = run["layers"] or {}
    if not isinstance(layers, dict):
        raise RunFileError(f"{where}: 'layers' must be a dict of name to pairs.")
    for name, pair in layers.items():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise RunFileError(
                f"{where}: layers[{name!r}] must be a pair (Phi_train, Phi_test)."
            )
        arrays[f"layer/{name}/Phi_train"] = _to_numpy(pair[0])
        arrays[f"layer/{name}/Phi_test"] = _to_numpy(pair[1])
    check_run(arrays, where=where)
    return {
        **{key: arrays[key] for key in REQUIRED_KEYS},
        "outputs_test": arrays.get("outputs_test"),
        "layers": {
            name: (arrays[f"layer/{name}/Phi_train"], arrays[f"layer/{name}/Phi_test"])
            for name in layers
        },
    }


def check_run(arrays, where="run"):
    """Check keys, dtypes and shapes of a run; return the extra layer names."""
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise RunFileError(
            f"{where}: missing key(s) {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED_KEYS)})."
        )
    layers = {}
    for key in arrays:
        if key in REQUIRED_KEYS or key in OPTIONAL_KEYS:
            continue
        match = _LAYER_KEY.match(key)
        if match is None:
            raise RunFileError(
                f"{where}: unexpected key {key!r} (see `skfeat report --help` "
                "for the format)."
            )
        layers.setdefault(match["name"], set()).add(match["part"])
    for name, parts in layers.items():
        if parts != {"Phi_train", "Phi_test"}:
            (missing_part,) = {"Phi_train", "Phi_test"} - parts
            raise RunFileError(f"{where}: missing key layer/{name}/{missing_part}.")
    n = _check_features(arrays, "Phi_train", where)
    m = _check_features(arrays, "Phi_test", where)
    if arrays["Phi_train"].shape[1] != arrays["Phi_test"].shape[1]:
        raise RunFileError(
            f"{where}: Phi_train has {arrays['Phi_train'].shape[1]} features but "
            f"Phi_test has {arrays['Phi_test'].shape[1]}."
        )
    _check_targets(arrays, "y_train", n, where)
    _check_targets(arrays, "y_test", m, where)
    if "outputs_test" in arrays:
        outputs = arrays["outputs_test"]
        if outputs.dtype.kind not in "iuf" or outputs.ndim not in (1, 2):
            raise RunFileError(
                f"{where}: outputs_test must be a 1-D or 2-D numeric array; got "
                f"dtype {outputs.dtype}, shape {outputs.shape}."
            )
        if outputs.shape[0] != m:
            raise RunFileError(
                f"{where}: outputs_test has {outputs.shape[0]} rows but Phi_test "
                f"has {m}."
            )
        if not np.all(np.isfinite(outputs)):
            raise RunFileError(f"{where}: outputs_test contains NaN or infinity.")
    for name in layers:
        _check_features(arrays, f"layer/{name}/Phi_train", where, rows=n)
        _check_features(arrays, f"layer/{name}/Phi_test", where, rows=m)
        p_train = arrays[f"layer/{name}/Phi_train"].shape[1]
        p_test = arrays[f"layer/{name}/Phi_test"].shape[1]
        if p_train != p_test:
            raise RunFileError(
                f"{where}: layer {name!r} has {p_train} features in Phi_train but "
                f"{p_test} in Phi_test."
            )
    return list(layers)


def _check_features(arrays, key, where, rows=None):
    Phi = arrays[key]
    if Phi.dtype.kind not in "iuf":
        raise RunFileError(f"{where}: {key} must be numeric; got dtype {Phi.dtype}.")
    if Phi.ndim != 2:
        raise RunFileError(f"{where}: {key} must be 2-D; got shape {Phi.shape}.")
    if Phi.shape[0] < 2 or Phi.shape[1] < 1:
        raise RunFileError(
            f"{where}: {key} needs at least 2 samples and 1 feature; got shape "
            f"{Phi.shape}."
        )
    if rows is not None and Phi.shape[0] != rows:
        base = "Phi_train" if key.endswith("Phi_train") else "Phi_test"
        raise RunFileError(
            f"{where}: {key} has {Phi.shape[0]} rows but {base} has {rows}."
        )
    if not np.all(np.isfinite(Phi)):
        raise RunFileError(f"{where}: {key} contains NaN or infinity.")
    return Phi.shape[0]


def _check_targets(arrays, key, rows, where):
    y = arrays[key]
    if y.ndim == 1 and y.dtype.kind in "biufUS":
        pass
    elif y.ndim == 2 and y.dtype.kind in "biuf":
        pass
    else:
        raise RunFileError(
            f"{where}: {key} must be 1-D labels (numbers or strings) or 2-D "
            f"numeric targets; got dtype {y.dtype}, shape {y.shape}."
        )
    if y.shape[0] != rows:
        base = "Phi_train" if key == "y_train" else "Phi_test"
        raise RunFileError(
            f"{where}: {key} has {y.shape[0]} entries but {base} has {rows} rows."
        )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise RunFileError(f"{where}: {key} contains NaN or infinity.")


def _to_numpy(array):
    """Host numpy copy of an array of any namespace (small to moderate runs)."""
    try:
        return to_host(array, dtype=None)
    except Exception as exc:
        raise RunFileError(f"cannot read an array of the run: {one_line(exc)}") from exc


def one_line(exc):
    """Return an exception's message folded onto one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
