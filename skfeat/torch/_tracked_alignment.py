"""NFA / C-NFA of the layers a :class:`FeatureTracker` follows.

The tracker names features as the extractor does (``"2:input"`` is the input
of submodule ``"2"``), while the alignment functions take the name of the
Linear / Conv layer whose weight acts on that input.  This module maps one to
the other and feeds the training inputs to the one-pass tangent-kernel engine.
"""

from ._alignment import (
    _alignment_from_kernel,
    find_layer,
    is_weight_layer,
    tangent_kernels,
)
from ._layers import INPUT_SUFFIX

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
        if not layer.endswith(INPUT_SUFFIX):
            continue
        base = layer.removesuffix(INPUT_SUFFIX)
        module = modules.get(base)
        if is_weight_layer(module) and getattr(module, "groups", 1) == 1:
            mapping[layer] = base
    return mapping


def tracked_alignment(
    model,
    X,
    layers,
    *,
    init_state=None,
    batch_size=256,
    output_selector=None,
    forward_kwargs=None,
):
    """NFA (and C-NFA) of the tracked layers that feed a Linear / Conv layer.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    X : array-like, torch.Tensor, dict, Dataset or DataLoader
        Inputs on which the tangent kernels are summed (the training inputs),
        read in batches as the extractor reads them.
    layers : list of str
        Tracked layer names (``"name:input"`` form for the NFA to apply).
    init_state : dict or None, default=None
        ``state_dict`` snapshot at initialisation; adds ``"cnfa"``.
    batch_size : int, default=256
        Samples per forward pass for arrays, tensors and Datasets (a
        ``DataLoader`` in its own batches).
    output_selector : str, callable or None, default=None
        Which tensor of the model's return value is its output.
    forward_kwargs : dict or None, default=None
        Extra keyword arguments of every forward call.

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
    kernels, _, _ = tangent_kernels(
        model,
        X,
        names,
        batch_size,
        output_selector=output_selector,
        forward_kwargs=forward_kwargs,
    )
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
    return {layer: dict(per_module[name]) for layer, name in mapping.items()}
