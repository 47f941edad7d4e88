"""From what a module returns to a matrix of features: selection and reductions.

Selection.  A module may return a tensor, a tuple or list, a dict, a Hugging
Face ``ModelOutput`` (a dict with attribute access) or a dataclass.  The
tensor read from it is, by default, the ``"logits"`` entry when there is one,
else the first tensor found (depth first, in order); a key, an attribute name
or a callable picks another.

Reduction.  A sample's activation becomes features by a documented rule:

* ``(n,)`` and ``(n, p)``: as they are (one feature, or ``p``);
* ``(n, L, H)`` -- a sequence of ``L`` tokens of ``H`` features, the layout of
  transformers and batch-first recurrent layers -- by ``sequence_reduction``:
  ``"token_mean"`` (the mean over the tokens, padding excluded when the batch
  has an ``attention_mask`` of shape ``(n, L)``), ``"first_token"`` (e.g.
  BERT's ``[CLS]``), ``"last_token"`` (the last non-padding token, GPT-style),
  ``"flatten"`` (``L * H`` features) or ``"tokens_as_samples"`` (each
  non-padding token is a row);
* ``(n, C, *spatial)`` with two or more spatial axes -- channels-first maps of
  convolutional networks -- and the ``(n, C, L)`` activations of the 1-d
  layers of :mod:`torch.nn` (``Conv1d``, ``BatchNorm1d``, pooling) by
  ``spatial_reduction``: ``"flatten"`` (``C * prod(spatial)`` features),
  ``"channel_mean"`` (global average pooling: ``C`` features) or
  ``"positions_as_samples"`` (each position is a row of ``C`` features).

The ``*_as_samples`` reductions give several rows per sample; the counts are
returned beside the rows so that targets and outputs can follow each sample
to its rows.
"""

import dataclasses
from collections.abc import Mapping

import torch

__all__ = [
    "SEQUENCE_REDUCTIONS",
    "SPATIAL_REDUCTIONS",
    "Reducer",
    "select_tensor",
]

SEQUENCE_REDUCTIONS = (
    "token_mean",
    "first_token",
    "last_token",
    "flatten",
    "tokens_as_samples",
)
SPATIAL_REDUCTIONS = ("flatten", "channel_mean", "positions_as_samples")

# 3-d activations of these modules (and of their inputs) are channels first.
_CHANNELS_FIRST_1D = (
    torch.nn.Conv1d,
    torch.nn.ConvTranspose1d,
    torch.nn.BatchNorm1d,
    torch.nn.InstanceNorm1d,
    torch.nn.MaxPool1d,
    torch.nn.AvgPool1d,
    torch.nn.AdaptiveAvgPool1d,
    torch.nn.AdaptiveMaxPool1d,
    torch.nn.LPPool1d,
)


def select_tensor(value, selector=None, *, what="The model"):
    """Return the tensor in a module's output, by ``selector`` or the default rule.

    Parameters
    ----------
    value : object
        What the module returned.
    selector : str, callable or None
        A key (of a dict / ``ModelOutput``), an attribute name, or a callable
        ``selector(value) -> tensor``; None: ``"logits"`` if present, else the
        first tensor.
    what : str
        Who returned ``value``, for the error messages.
    """
    if selector is not None:
        if callable(selector):
            value = selector(value)
        elif isinstance(value, Mapping) and selector in value:
            value = value[selector]
        elif hasattr(value, selector) and not isinstance(value, torch.Tensor):
            value = getattr(value, selector)
        else:
            raise ValueError(
                f"{what} returned {_describe(value)}, which has no key or "
                f"attribute {selector!r}."
            )
    tensor = _default_tensor(value)
    if tensor is None:
        raise TypeError(
            f"{what} returned {_describe(value)}: no tensor to read"
            + (
                " (a module returning None, e.g. a forward without `return`)."
                if value is None
                else "; pick one with a key, attribute or callable."
            )
        )
    return tensor


def _default_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, Mapping):
        if isinstance(value.get("logits"), torch.Tensor):
            return value["logits"]
        items = list(value.values())
    elif isinstance(value, (tuple, list)):
        items = list(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return None
    for item in items:
        found = _default_tensor(item)
        if found is not None:
            return found
    return None


def _describe(value):
    if isinstance(value, Mapping):
        return f"a {type(value).__name__} with keys {list(value)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def layout_of(module):
    """``"channels"`` when a 3-d activation of ``module`` is channels first."""
    return "channels" if isinstance(module, _CHANNELS_FIRST_1D) else "tokens"


class Reducer:
    """How per-sample activations become rows of features (module docstring)."""

    def __init__(self, sequence_reduction="token_mean", spatial_reduction="flatten"):
        if sequence_reduction not in SEQUENCE_REDUCTIONS:
            raise ValueError(
                f"sequence_reduction must be one of {SEQUENCE_REDUCTIONS}; got "
                f"{sequence_reduction!r}."
            )
        if spatial_reduction not in SPATIAL_REDUCTIONS:
            raise ValueError(
                f"spatial_reduction must be one of {SPATIAL_REDUCTIONS}; got "
                f"{spatial_reduction!r}."
            )
        self.sequence = sequence_reduction
        self.spatial = spatial_reduction

    def kind(self, ndim, layout):
        """Name the reduction of an activation of ``ndim`` axes (batch included)."""
        if ndim <= 2:
            return "none"
        if ndim == 3 and layout == "tokens":
            return self.sequence
        return self.spatial

    def with_spatial(self, spatial_reduction):
        return Reducer(self.sequence, spatial_reduction)

    def rows(self, activation, layout="tokens", mask=None):
        """``(rows, counts)``: 2-d features and rows per sample (None: one each)."""
        n = activation.shape[0]
        kind = self.kind(activation.ndim, layout)
        if kind == "none":
            return activation.reshape(n, -1), None
        if kind == "flatten":
            return activation.reshape(n, -1), None
        if kind == "channel_mean":
            return activation.mean(dim=tuple(range(2, activation.ndim))), None
        if kind == "positions_as_samples":
            channels = activation.shape[1]
            positions = activation[0, 0].numel()
            rows = activation.reshape(n, channels, -1).transpose(1, 2)
            counts = torch.full((n,), positions, dtype=torch.long)
            return rows.reshape(-1, channels), counts
        return _sequence_rows(activation, kind, mask)


def _sequence_rows(activation, kind, mask):
    n, length = activation.shape[:2]
    if mask is not None and tuple(mask.shape) != (n, length):
        mask = None  # a mask of the inputs, not of this sequence (e.g. pooled)
    if mask is not None:
        valid = mask.to(activation.device) != 0
    if kind == "token_mean":
        if mask is None:
            return activation.mean(dim=1), None
        weights = valid.to(activation.dtype)
        total = torch.einsum("nl,nlh->nh", weights, activation)
        return total / weights.sum(dim=1, keepdim=True).clamp_min(1), None
    if kind in ("first_token", "last_token"):
        if mask is None:
            index = torch.full((n,), 0 if kind == "first_token" else length - 1)
        else:
            positions = torch.arange(length, device=valid.device)
            if kind == "first_token":
                # The smallest valid position (length when none is valid).
                index = torch.where(valid, positions, length).amin(dim=1)
            else:
                index = torch.where(valid, positions, -1).amax(dim=1)
            index = index.clamp(0, length - 1)
        rows = activation[
            torch.arange(n, device=activation.device), index.to(activation.device)
        ]
        return rows, None
    if kind == "flatten":  # pragma: no cover - dispatched before
        return activation.reshape(n, -1), None
    # tokens_as_samples
    if mask is None:
        counts = torch.full((n,), length, dtype=torch.long)
        return activation.reshape(n * length, -1), counts
    return activation[valid], valid.sum(dim=1).to("cpu", torch.long)
