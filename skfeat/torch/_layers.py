r"""Which layers to read, and the hooks that read them during a forward pass.

Names.  A layer is named as in ``module.named_modules()``: ``"name"`` is the
output of that submodule, ``"name:input"`` its (first) input, ``""`` the
model's output.  ``None`` is the input of the last linear layer (the paper's
penultimate features), where transformers' ``Conv1D`` (GPT-2's projections,
a linear layer with its weight stored transposed) counts as linear.
``"all"`` and ``"blocks"`` are resolved by one probe pass (see
:func:`probe_layers`):

* ``"all"``: every leaf module (one without submodules) that runs exactly
  once per forward pass and returns a floating tensor with the samples first,
  except ``Dropout`` and ``Identity`` (in eval mode they repeat their input),
  in the order in which the forward pass calls them;
* ``"blocks"``: every module that is an element of an ``nn.Sequential`` or
  ``nn.ModuleList`` and has submodules itself (ResNet's ``BasicBlock``\\ s, a
  transformer's layers), under the same conditions, in call order.

The tap.  :class:`LayerTap` registers the hooks, runs the model in eval mode
under :func:`torch.no_grad`, checks what each layer gives (run once per
forward, samples first), reduces it to rows (:class:`~._activations.Reducer`)
and hands them to a callback; hooks and train/eval modes are restored on exit,
also when the forward pass raises.
"""

import difflib

import torch

from ._activations import layout_of, select_tensor
from ._inputs import call_model

__all__ = [
    "INPUT_SUFFIX",
    "LayerTap",
    "is_linear_like",
    "linear_weight",
    "probe_layers",
    "resolve_layers",
    "unwrap_compiled",
]

# "name:input" selects the input of a submodule instead of its output; ":" never
# occurs in the names that ``named_modules`` produces (they use ".").
INPUT_SUFFIX = ":input"
_COMPILED_PREFIX = "_orig_mod."
_KEYWORDS = ("all", "blocks")


def unwrap_compiled(module):
    r"""Return the eager module inside a ``torch.compile``\\ d one (or ``module``).

    Hooks added to a compiled module's submodules change what the compiled
    graph guards on, so each hooked call would recompile; measuring runs the
    same weights eagerly instead, and the compiled module's cache is untouched.
    """
    inner = getattr(module, "_orig_mod", None)
    if isinstance(inner, torch.nn.Module) and type(module).__name__ == (
        "OptimizedModule"
    ):
        return inner
    return module


def is_linear_like(module):
    """Whether ``module`` applies one weight matrix to its last axis.

    ``torch.nn.Linear``, and transformers' ``Conv1D`` (GPT-2, whose weight is
    stored ``(in, out)``), recognised by its name and its ``nf`` attribute so
    that transformers need not be imported.
    """
    if isinstance(module, torch.nn.Linear):
        return True
    weight = getattr(module, "weight", None)
    return (
        type(module).__name__ == "Conv1D"
        and hasattr(module, "nf")
        and isinstance(weight, torch.Tensor)
        and weight.ndim == 2
    )


def linear_weight(module):
    """Return the ``d_out x d_in`` weight of a linear-like layer (Conv1D transposed)."""
    weight = module.weight
    if isinstance(module, torch.nn.Linear):
        return weight
    return weight.T


def resolve_layers(module, layers):
    """Validate layer names; ``None`` is the input of the last linear layer.

    ``"all"`` and ``"blocks"`` are returned as they are (resolved by a probe),
    unless the module has a submodule of that name.
    """
    modules = dict(module.named_modules())
    if layers is None:
        linear = [n for n, m in modules.items() if is_linear_like(m)]
        if not linear:
            raise ValueError(
                f"layers=None selects the input of the last linear layer "
                f"(torch.nn.Linear or transformers' Conv1D), but "
                f"{type(module).__name__} has none; name a layer, one of "
                f"{_preview(modules)}, or use layers='all'."
            )
        return [linear[-1] + INPUT_SUFFIX]
    if isinstance(layers, str) and layers in _KEYWORDS and layers not in modules:
        return layers
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("layers is an empty list; name at least one layer.")
    resolved = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"Layer names must be str; got {name!r}.")
        if name.startswith(_COMPILED_PREFIX):
            name = name[len(_COMPILED_PREFIX) :]
        base = name.removesuffix(INPUT_SUFFIX)
        if base not in modules:
            close = difflib.get_close_matches(base, list(modules), n=5, cutoff=0.5)
            hint = f"close matches: {close}" if close else _preview(modules)
            raise ValueError(
                f"{type(module).__name__} has no submodule named {base!r}; {hint}."
            )
        _check_batch_first(modules[base], name)
        if name not in resolved:
            resolved.append(name)
    return resolved


def _preview(modules, n=8):
    names = [repr(name) for name in modules if name]
    more = f", ... ({len(names) - n} more)" if len(names) > n else ""
    return "available: " + ", ".join(names[:n]) + more


def _batch_first(module):
    """``batch_first`` of a sequence module (None for other modules)."""
    if isinstance(module, (torch.nn.RNNBase, torch.nn.MultiheadAttention)):
        return bool(module.batch_first)
    if isinstance(module, torch.nn.Transformer):
        return bool(module.batch_first)
    if isinstance(module, (torch.nn.TransformerEncoderLayer,)) or isinstance(
        module, torch.nn.TransformerDecoderLayer
    ):
        return bool(module.self_attn.batch_first)
    if isinstance(module, (torch.nn.TransformerEncoder, torch.nn.TransformerDecoder)):
        return bool(module.layers[0].self_attn.batch_first) if module.layers else None
    return None


_NOT_BATCH_FIRST = (
    "its first axis is not the samples: nn.LSTM, nn.GRU, nn.RNN, "
    "nn.MultiheadAttention and nn.Transformer* put the sequence first unless built "
    "with batch_first=True. Build the model with batch_first=True (and feed it "
    "samples first), or read a layer whose output has the samples first."
)


def _check_batch_first(module, name):
    if _batch_first(module) is False:
        raise ValueError(
            f"Layer {name!r} is a {type(module).__name__} with batch_first=False: "
            + _NOT_BATCH_FIRST
        )


def _called_twice_message(name, module, calls):
    base = name.removesuffix(INPUT_SUFFIX)
    parent = base.rsplit(".", 1)[0] if "." in base else ""
    block = f"the enclosing block ({parent!r})" if parent else "the model's output"
    return (
        f"Layer {name!r} ({type(module).__name__}) runs {calls} times in one "
        "forward pass (a module used twice, like the shared `relu` of "
        "torchvision's BasicBlock), so it has no single activation to read. Name "
        "a module that runs once: the input of the layer that consumes the call "
        f"you want ('<that layer>:input'), or {block}."
    )


class LayerTap:
    """Hooks on named layers of a module: each forward's rows per layer.

    Parameters
    ----------
    module : torch.nn.Module
        The (placed, eager) module.
    names : list of str
        Resolved layer names; ``""`` is the model's output.
    reducer : Reducer
        How activations become rows.
    on_rows : callable
        ``on_rows(name, rows, counts)`` for every layer in every forward pass,
        called at hook time (the rows may be overwritten in place later in the
        forward pass: copy or consume them now).  ``""`` comes last.
    output_selector : str, callable or None
        Which tensor of the model's output is its output.
    forward_kwargs : dict or None
        Extra keyword arguments of every forward call.
    reducers : dict of str to Reducer, optional
        Per-layer reducers overriding ``reducer``.
    """

    def __init__(
        self,
        module,
        names,
        reducer,
        on_rows,
        *,
        output_selector=None,
        forward_kwargs=None,
        reducers=None,
    ):
        self.module = module
        self.names = list(names)
        self.reducer = reducer
        self.reducers = reducers or {}
        self.on_rows = on_rows
        self.output_selector = output_selector
        self.forward_kwargs = forward_kwargs
        self.shapes = {}
        self._handles = []
        self._modes = None
        self._calls = {}
        self._batch = None

    def __enter__(self):
        self._modes = [(m, m.training) for m in self.module.modules()]
        try:
            for name in self.names:
                if name == "":
                    continue
                base = name.removesuffix(INPUT_SUFFIX)
                sub = self.module.get_submodule(base)
                if name.endswith(INPUT_SUFFIX):
                    handle = sub.register_forward_pre_hook(
                        self._pre_hook(name), with_kwargs=True
                    )
                else:
                    handle = sub.register_forward_hook(self._hook(name))
                self._handles.append(handle)
            self.module.eval()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for submodule, training in self._modes or ():
            submodule.training = training
        self._batch = None
        return False

    def run(self, batch):
        """One forward pass over ``batch``; returns the model's raw output."""
        self._batch = batch
        self._calls = dict.fromkeys(self.names, 0)
        with torch.no_grad():
            output = call_model(self.module, batch.inputs, self.forward_kwargs)
        missing = [n for n in self.names if n and self._calls[n] == 0]
        if missing:
            raise ValueError(
                f"Layers {missing} did not run in the forward pass (skipped by "
                "the model's forward for these inputs?): there is nothing to read."
            )
        if "" in self.names:
            tensor = select_tensor(output, self.output_selector, what="The model")
            self._take("", self.module, tensor)
        return output

    def _pre_hook(self, name):
        def hook(module, args, kwargs):
            value = args if args else tuple(kwargs.values())
            tensor = select_tensor(value, what=f"The input of layer {name!r}")
            self._take(name, module, tensor)

        return hook

    def _hook(self, name):
        def hook(module, args, output):
            tensor = select_tensor(output, what=f"Layer {name!r}")
            self._take(name, module, tensor)

        return hook

    def _take(self, name, module, tensor):
        calls = self._calls[name] = self._calls[name] + 1
        if calls > 1:
            raise ValueError(_called_twice_message(name, module, calls))
        size = self._batch.size
        if tensor.ndim == 0 or tensor.shape[0] != size:
            raise ValueError(
                f"Layer {name or '(the output)'!r} gave an activation of shape "
                f"{tuple(tensor.shape)} for a batch of {size} samples: "
                + _NOT_BATCH_FIRST
            )
        if tensor.is_complex():
            raise TypeError(
                f"Layer {name!r} gives complex activations (dtype {tensor.dtype}); "
                "the measures need real features."
            )
        self.shapes[name] = tuple(tensor.shape[1:])
        tensor = tensor.detach()
        if tensor.is_floating_point() and tensor.element_size() < 4:
            # bfloat16 / float16 (autocast, half models): measure in float32.
            tensor = tensor.float()
        elif not tensor.is_floating_point():
            tensor = tensor.float()
        reducer = self.reducers.get(name, self.reducer)
        rows, counts = reducer.rows(tensor, layout_of(module), self._batch.mask)
        self.on_rows(name, rows, counts)


def _leaf_modules(module):
    return {
        name: sub
        for name, sub in module.named_modules()
        if name and next(iter(sub.children()), None) is None
    }


def _block_modules(module):
    blocks = {}
    for name, sub in module.named_modules():
        if isinstance(sub, (torch.nn.Sequential, torch.nn.ModuleList)):
            for child_name, child in sub.named_children():
                if next(iter(child.children()), None) is not None:
                    blocks[f"{name}.{child_name}" if name else child_name] = child
    return blocks


def probe_layers(module, keyword, batch, *, forward_kwargs=None):
    """Resolve ``"all"`` / ``"blocks"`` by one forward pass over ``batch``.

    Returns the names in call order (see the module docstring for the rule).
    """
    candidates = _leaf_modules(module) if keyword == "all" else _block_modules(module)
    skipped = (torch.nn.Dropout, torch.nn.Identity)
    candidates = {
        name: sub
        for name, sub in candidates.items()
        if not isinstance(sub, skipped) and _batch_first(sub) is not False
    }
    order, calls, good = [], {}, {}
    size = batch.size

    def hook(name):
        def record(sub, args, output):
            calls[name] = calls.get(name, 0) + 1
            if name not in good:
                order.append(name)
            try:
                tensor = select_tensor(output, what=name)
            except (TypeError, ValueError):
                good[name] = False
                return
            good[name] = (
                tensor.is_floating_point()
                and tensor.ndim >= 1
                and tensor.shape[0] == size
            )

        return record

    handles = [sub.register_forward_hook(hook(n)) for n, sub in candidates.items()]
    modes = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        with torch.no_grad():
            call_model(module, batch.inputs, forward_kwargs)
    finally:
        for handle in handles:
            handle.remove()
        for sub, training in modes:
            sub.training = training
    names = [n for n in order if good.get(n) and calls[n] == 1]
    if not names:
        what = (
            "no leaf module"
            if keyword == "all"
            else "no block (element of an "
            "nn.Sequential / nn.ModuleList with submodules)"
        )
        raise ValueError(
            f"layers={keyword!r}: {type(module).__name__} has {what} that runs once "
            "per forward pass with a batch-first tensor output; name the layers."
        )
    return names
