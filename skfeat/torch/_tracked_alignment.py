"""NFA / C-NFA of the layers a :class:`FeatureTracker` follows.

The tracker names features as the extractor does (``"2:input"`` is the input
of submodule ``"2"``), while the alignment functions take the name of the
Linear / Conv layer whose weight acts on that input.  This module maps one to
the other and feeds the training inputs to the one-pass tangent-kernel engine.
"""

import torch

from ._alignment import (
    _LAYER_TYPES,
    _alignment_from_kernel,
    alignment_per_layer,
    find_layer,
    tangent_kernels,
)
from ._extractor import _INPUT_SUFFIX, _inputs_of

__all__ = ["tracked_alignment"]


def weight_layers_of(model, layers):
    """Map tracked names ``"name:input"`` to ``"name"`` when it has a weight matrix.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    layers : list of str
        Tracked layer names, as in :class:`FeatureExtractor`.

    Returns
    -------
    mapping : dict of str to str
        ``{tracked name: Linear / Conv module name}``; tracked layers that are
        not the input of a (non-grouped) Linear / Conv layer are left out.
    """
    modules = dict(model.named_modules())
    mapping = {}
    for layer in layers:
        if not layer.endswith(_INPUT_SUFFIX):
            continue
        base = layer.removesuffix(_INPUT_SUFFIX)
        module = modules.get(base)
        if isinstance(module, _LAYER_TYPES) and getattr(module, "groups", 1) == 1:
            mapping[layer] = base
    return mapping


def tracked_alignment(model, X, layers, *, init_state=None, batch_size=256):
    """NFA (and C-NFA) of the tracked layers that feed a Linear / Conv layer.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    X : array-like, torch.Tensor, Dataset or DataLoader
        Inputs on which the tangent kernels are summed (the training inputs).
    layers : list of str
        Tracked layer names (``"name:input"`` form for the NFA to apply).
    init_state : dict or None, default=None
        ``state_dict`` snapshot at initialisation; adds ``"cnfa"``.
    batch_size : int, default=256
        Samples per forward pass for arrays and tensors (a ``Dataset`` is read
        in batches of this size; a ``DataLoader`` in its own batches).

    Returns
    -------
    alignment : dict
        ``{tracked name: {"nfa": float[, "cnfa": float]}}`` for the layers of
        :func:`weight_layers_of` only.
    """
    mapping = weight_layers_of(model, layers)
    if not mapping:
        return {}
    names = list(dict.fromkeys(mapping.values()))
    data = torch.utils.data
    if isinstance(X, data.Dataset) and not isinstance(X, torch.Tensor):
        X = data.DataLoader(X, batch_size=batch_size, shuffle=False)
    if isinstance(X, data.DataLoader):
        # The kernels are sums over samples: add those of each loaded batch so
        # that memory stays bounded by the batch, as for arrays.
        kernels = None
        for batch in _inputs_of(X):
            part, _ = tangent_kernels(model, batch, names, batch_size)
            kernels = (
                part
                if kernels is None
                else {name: kernels[name] + part[name] for name in names}
            )
        if kernels is None:
            raise ValueError("The DataLoader yields no batches.")
        per_module = {
            name: _alignment_from_kernel(
                find_layer(model, name),
                name,
                kernels[name],
                power=1.0,
                init_state=init_state,
                correlation="pearson",
            )
            for name in names
        }
    else:
        per_module = alignment_per_layer(
            model, X, names, init_state=init_state, batch_size=batch_size
        )
    return {layer: dict(per_module[name]) for layer, name in mapping.items()}
