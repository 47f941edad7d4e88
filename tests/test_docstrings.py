"""numpydoc validation of every public name (and public method) of skfeat."""

import importlib
import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

PUBLIC_MODULES = [
    "skfeat",
    "skfeat.metrics",
    "skfeat.inspection",
    "skfeat.datasets",
    "skfeat.torch",
    "skfeat.torch.callbacks",
    "skfeat.plotting",
]

# Checks we do not enforce, with why:
IGNORED = {
    "ES01",  # an extended summary is welcome, not required
    "SA01",  # See Also only where it helps
    "SS05",  # summaries may start with a noun ("Eigenvalues of ...")
    "RT02",  # "self : FeatureSpectrum" names the return on purpose
    "YD01",
}


def _public_objects():
    seen = set()
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            qualname = f"{obj.__module__}.{obj.__qualname__}"
            if qualname in seen:
                continue
            seen.add(qualname)
            yield f"{module_name}.{name}", obj, True
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not callable(member):
                        continue
                    yield f"{module_name}.{name}.{attr}", member, False


OBJECTS = list(_public_objects())


@pytest.mark.parametrize("name, obj, top_level", OBJECTS, ids=[o[0] for o in OBJECTS])
def test_numpydoc(name, obj, top_level):
    result = numpydoc_validate.validate(name)
    # Every public class and function has a runnable example; methods may
    # rely on their class's.
    ignored = IGNORED if top_level else IGNORED | {"EX01"}
    errors = [f"{c}: {msg}" for c, msg in result["errors"] if c not in ignored]
    assert not errors, "\n".join(errors)
