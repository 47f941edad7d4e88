"""What a model is fed: one rule for arrays, tensors, dicts, Datasets and DataLoaders.

The extractor, the tracker, the whole-network analysis and the NFA read their
inputs here, so that a batch means the same thing everywhere:

* an array or tensor, samples first, is cut into ``batch_size`` row slices and
  passed as ``model(batch, **forward_kwargs)``;
* a dict of arrays / tensors (a Hugging Face ``BatchEncoding`` is one:
  ``input_ids``, ``attention_mask``, ...) is cut the same way, every value
  along its first axis, and passed as ``model(**batch, **forward_kwargs)``;
* a :class:`~torch.utils.data.Dataset` is read in order in batches of
  ``batch_size``, a :class:`~torch.utils.data.DataLoader` in its own batches.
  An ``(input, target, ...)`` tuple is an input and its targets; a dict is the
  model's keyword inputs, its ``"labels"`` (or ``"label"``) entry the targets,
  which are not passed to the model.

Floating inputs are cast to the model's floating dtype and checked for NaN and
infinity *after* the cast (float64 values beyond float32's range become
infinite in a float32 model, and are refused, not measured).  Integer inputs
(token ids, attention masks) keep their dtype; only a model that cannot take
them (its first layer multiplies them by floating weights, as a ``Linear``
would) gets them cast to its dtype, as scikit-learn casts integer data to
float -- decided once, by a forward pass on the first samples
(:func:`integer_cast`).  Everything moves to the model's device one batch at
a time.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch

from skfeat.utils._validation import (
    DtypeError,
    check_labels,
    check_real_dtype,
    check_targets,
)

__all__ = [
    "Batches",
    "LABEL_KEYS",
    "call_model",
    "integer_cast",
    "labels_beside",
    "n_rows",
    "place",
]

# The keys of a dict batch that hold its targets (Hugging Face's convention);
# they are read as labels and not passed to the model.
LABEL_KEYS = ("labels", "label")

_data = torch.utils.data


@dataclass
class Batch:
    """One batch: the model's inputs (tensor or dict of tensors) and targets."""

    inputs: object
    targets: object = None

    @property
    def size(self):
        return n_rows(self.inputs)

    @property
    def mask(self):
        """The ``attention_mask`` of a dict batch, else None."""
        if isinstance(self.inputs, Mapping):
            return self.inputs.get("attention_mask")
        return None


def n_rows(inputs):
    """Return the number of samples of a tensor or a dict of tensors."""
    if isinstance(inputs, Mapping):
        return next(iter(inputs.values())).shape[0]
    return inputs.shape[0]


def call_model(module, inputs, forward_kwargs=None):
    """``module(inputs, **kw)``, or ``module(**inputs, **kw)`` for a dict batch."""
    kwargs = forward_kwargs or {}
    if isinstance(inputs, Mapping):
        clash = sorted(set(inputs) & set(kwargs))
        if clash:
            raise ValueError(
                f"forward_kwargs repeats the input key(s) {clash} of the batch; "
                "per-sample inputs go in the batch, constants in forward_kwargs."
            )
        return module(**inputs, **kwargs)
    return module(inputs, **kwargs)


class Batches:
    """The batches of ``X``, re-iterable, placed on a device with a dtype.

    Parameters
    ----------
    X : array-like, torch.Tensor, dict, Dataset or DataLoader
        The inputs (see the module docstring).
    batch_size : int
        Rows per batch for arrays, tensors, dicts and Datasets.
    name : str, default="X"
        What ``X`` is called in error messages.

    Attributes
    ----------
    n_samples : int or None
        Number of samples (None for an iterable dataset of unknown length).
    n_batches : int or None
        Number of batches, when known.
    in_order : bool
        Whether the batches follow the order of the samples (False for a
        DataLoader with a shuffling or otherwise random sampler).
    in_memory : bool
        Whether ``X`` is an array, tensor or dict (its targets, if any, are
        not part of it).
    """

    def __init__(self, X, batch_size, *, name="X"):
        self.name = name
        self.batch_size = int(batch_size)
        self._loader = None
        self._memory = None
        if isinstance(X, _data.DataLoader):
            self._loader = _checked_loader(X, name)
        elif isinstance(X, _data.Dataset) and not isinstance(X, torch.Tensor):
            self._loader = _data.DataLoader(X, batch_size=self.batch_size)
        elif isinstance(X, Mapping) and not scipy.sparse.issparse(X):
            self._memory = _as_input_dict(X, name)
        else:
            self._memory = as_input_tensor(X, name)
        self.in_memory = self._memory is not None
        if self.in_memory:
            self.n_samples = n_rows(self._memory)
            self.n_batches = -(-self.n_samples // self.batch_size)
            self.in_order = True
        else:
            self.n_samples = _len_or_none(self._loader.dataset)
            self.n_batches = _len_or_none(self._loader)
            self.in_order = _sampler_in_order(self._loader)

    @property
    def sample_shape(self):
        """Shape of one sample of an in-memory tensor (a dict: its key shapes)."""
        if isinstance(self._memory, Mapping):
            return {key: tuple(v.shape[1:]) for key, v in self._memory.items()}
        if self._memory is not None:
            return tuple(self._memory.shape[1:])
        return None

    def head(self, n):
        """Return the first ``n`` samples (at most) as one raw batch (fit's probe)."""
        if self.in_memory:
            return Batch(_slice(self._memory, 0, n))
        for batch in self.raw():
            return Batch(_slice(batch.inputs, 0, n), batch.targets)
        raise ValueError(self._empty_message())

    def raw(self):
        """Batches as read (host or wherever the loader puts them), validated."""
        if self.in_memory:
            size = self.batch_size
            for start in range(0, self.n_samples, size):
                yield Batch(_slice(self._memory, start, start + size))
            return
        seen = 0
        for batch in self._loader:
            batch = _split_batch(batch, self.name)
            seen += batch.size
            yield batch
        if seen == 0:
            raise ValueError(self._empty_message())

    def placed(self, device, dtype, *, cast_integers=False):
        """Batches on ``device``, floating inputs cast to ``dtype`` and checked."""
        for batch in self.raw():
            inputs = place(batch.inputs, device, dtype, self.name, cast_integers)
            yield Batch(inputs, batch.targets)

    def _empty_message(self):
        what = "DataLoader" if self._loader is not None else self.name
        return (
            f"The {what} yields no samples: there is nothing to run the model on "
            "(an empty dataset, or an iterable dataset that stops at once)."
        )


def place(inputs, device, dtype, name="X", cast_integers=False):
    """Move a batch to ``device``; floats cast to ``dtype`` and checked after it.

    With ``cast_integers``, a plain tensor of integers is cast too (a dict's
    integer entries, token ids and masks, never are).
    """
    if isinstance(inputs, Mapping):
        return {
            key: _place_tensor(value, device, dtype, f"{name}[{key!r}]")
            for key, value in inputs.items()
        }
    return _place_tensor(inputs, device, dtype, name, cast_integers)


def has_integers(inputs):
    """Whether a plain tensor batch holds integers (a candidate for a cast)."""
    return isinstance(inputs, torch.Tensor) and not inputs.is_floating_point()


def integer_cast(run, inputs, device, dtype):
    """Decide whether integer inputs must be cast, by running the model once.

    ``run(placed_inputs)`` is a forward pass.  Integer inputs are tried as
    they are; when the model raises on them (a ``Linear`` cannot multiply
    integers), they are cast to ``dtype`` and tried again.  Returns
    ``(placed_inputs, cast_integers, result)``; a model that fails both ways
    raises a ValueError that names the shape of the inputs.
    """
    placed = place(inputs, device, dtype)
    try:
        return placed, False, run(placed)
    except RuntimeError as exc:  # torch's shape / dtype mismatches
        first = exc
    if has_integers(inputs):
        cast = place(inputs, device, dtype, cast_integers=True)
        try:
            return cast, True, run(cast)
        except RuntimeError:
            pass
    raise ValueError(
        f"The model could not run on inputs of shape {_shapes(inputs)} per sample "
        f"(a wrong number of features?): {first}"
    ) from first


def _shapes(inputs):
    if isinstance(inputs, Mapping):
        return {key: tuple(value.shape[1:]) for key, value in inputs.items()}
    return tuple(inputs.shape[1:])


def _place_tensor(tensor, device, dtype, name, cast_integers=False):
    if tensor.is_floating_point() or cast_integers:
        cast = tensor.to(device=device, dtype=dtype, non_blocking=True)
        if not bool(torch.isfinite(cast).all()):
            beyond = bool(torch.isfinite(tensor).all())
            why = (
                f"values beyond the range of {dtype}, the model's dtype, became "
                "infinite when cast to it"
                if beyond
                else "it contains NaN or infinity"
            )
            raise ValueError(f"{name} cannot be fed to the model: {why}.")
        return cast
    return tensor.to(device=device, non_blocking=True)


def as_input_tensor(X, name="X", *, allow_bool=False):
    """Return ``X`` as a samples-first real tensor with a feature axis (no copy)."""
    if isinstance(X, torch.Tensor):
        tensor = X
        if tensor.is_complex():
            raise DtypeError(
                f"{name} holds complex numbers (dtype {tensor.dtype}): Complex data "
                "not supported; pass the real part, the modulus, or both."
            )
    else:
        if scipy.sparse.issparse(X):
            raise TypeError(
                f"{name} is a sparse matrix; the model needs dense inputs "
                f"({name}.toarray())."
            )
        try:
            array = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} could not be read as an array: {exc}") from exc
        check_real_dtype(array.dtype, name)
        tensor = _from_numpy(array)
    if tensor.dtype == torch.bool and not allow_bool:
        raise DtypeError(
            f"{name} must hold real numbers, not booleans (dtype {tensor.dtype}); "
            f"cast it ({name}.float()) if the model reads 0/1 values."
        )
    if tensor.ndim < 2:
        raise ValueError(
            f"{name} must have a samples axis and at least one feature axis; got "
            f"shape {tuple(tensor.shape)}. Reshape your data with X.reshape(-1, 1) "
            "if it has a single feature."
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} has no samples.")
    if any(size == 0 for size in tensor.shape[1:]):
        # scikit-learn's wording, which its common checks look for.
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(tensor.shape)}) while a "
            "minimum of 1 is required."
        )
    return tensor


def _from_numpy(array):
    import warnings

    with warnings.catch_warnings():
        # Read-only arrays (memmaps) are shared, not copied: the model only
        # reads them, so torch's non-writable warning does not apply.
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(array))


def _as_input_dict(X, name):
    """Return a dict of tensors of one length (a ``BatchEncoding`` included)."""
    if not X:
        raise ValueError(f"{name} is an empty dict: it holds no model inputs.")
    inputs = {}
    for key, value in X.items():
        if not isinstance(key, str):
            raise TypeError(
                f"{name} must have str keys (model arguments); got {key!r}."
            )
        tensor = value if isinstance(value, torch.Tensor) else None
        if tensor is None:
            try:
                array = np.asarray(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{name}[{key!r}] could not be read as an array: {exc}"
                ) from exc
            check_real_dtype(array.dtype, f"{name}[{key!r}]")
            tensor = _from_numpy(array)
        elif tensor.is_complex():
            raise DtypeError(
                f"{name}[{key!r}] holds complex numbers: Complex data not supported."
            )
        if tensor.ndim == 0:
            raise ValueError(
                f"{name}[{key!r}] is a scalar; every input of a dict is per sample "
                "(samples first). Pass constants through forward_kwargs."
            )
        inputs[key] = tensor
    lengths = {key: int(t.shape[0]) for key, t in inputs.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"The inputs of {name} have different numbers of samples: {lengths}."
        )
    if next(iter(lengths.values())) == 0:
        raise ValueError(f"{name} has no samples.")
    return inputs


def _slice(inputs, start, stop):
    if isinstance(inputs, Mapping):
        return {key: value[start:stop] for key, value in inputs.items()}
    return inputs[start:stop]


def _split_batch(batch, name):
    """Split a loaded batch (tuple, dict or bare input) into inputs and targets."""
    targets = None
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError("The DataLoader yielded an empty batch tuple.")
        inputs = batch[0]
        targets = batch[1] if len(batch) > 1 else None
    else:
        inputs = batch
    if isinstance(inputs, Mapping):
        inputs = dict(inputs)
        found = [key for key in LABEL_KEYS if key in inputs]
        if found and targets is None:
            targets = inputs.pop(found[0])
        elif found:
            inputs.pop(found[0])
        return Batch(_as_input_dict(inputs, f"{name} batch"), targets)
    return Batch(as_input_tensor(inputs, f"{name} batch"), targets)


def _checked_loader(loader, name):
    if loader.drop_last and loader.batch_size:
        n = _len_or_none(loader.dataset)
        dropped = n % loader.batch_size if n is not None else None
        if dropped is None or dropped:
            count = f"the last {dropped} of {n}" if dropped else "the last"
            raise ValueError(
                f"The DataLoader has drop_last=True: it drops {count} samples, "
                "which would be missing from the features. Pass a DataLoader "
                "with drop_last=False for measuring."
            )
    return loader


def _sampler_in_order(loader):
    sampler = loader.sampler
    if isinstance(sampler, _data.SequentialSampler):
        return True
    # Iterable datasets: the loader reads them in their own order.
    return type(sampler).__name__ == "_InfiniteConstantSampler"


def _len_or_none(obj):
    try:
        return len(obj)
    except TypeError:
        return None


def labels_beside(y, batches, name, x_name, *, values=False):
    """Check labels given beside inputs: 1-D, one per sample, inputs in order.

    The one rule of the tracker and the whole-network analysis: labels passed
    as an array are matched to the samples by position, so the inputs must
    be read in order -- beside a shuffling DataLoader they would be silently
    misaligned, and are refused (let the loader yield its own labels).
    ``values``: real-valued targets, 1-D or 2-D (one row per sample).
    """
    y = check_targets(y, name) if values else check_labels(y, name)
    if y.size == 0:
        raise ValueError(f"{name} is empty: it holds no class labels.")
    if batches.n_samples is not None and batches.n_samples != y.shape[0]:
        raise ValueError(
            f"{name} has {y.shape[0]} labels, but {x_name} has "
            f"{batches.n_samples} samples."
        )
    if not batches.in_order:
        raise ValueError(
            f"{name} is given beside a DataLoader that does not read its samples "
            "in order (shuffle=True or a random sampler): its batches would not "
            f"match the labels. Pass {name}=None and let the loader yield (input, "
            "target) pairs, or use shuffle=False."
        )
    return y
