"""Records as tables: one column order, one optional pandas frame."""

from skfeat.metrics._records import COLUMNS, CURVES
from skfeat.utils._optional import import_optional

__all__ = ["as_table", "ordered_columns"]


def ordered_columns(records, *, curves=True):
    """Keys of ``records`` in the schema's order, unknown keys after them."""
    seen = list(dict.fromkeys(key for record in records for key in record))
    known = [key for key in COLUMNS if key in seen]
    extra = [key for key in seen if key not in COLUMNS]
    columns = known + extra
    if not curves:
        columns = [key for key in columns if key not in CURVES]
    return columns


def as_table(records, *, as_frame=False, curves=True, purpose="as_frame=True"):
    """Return ``records`` as a list of dicts, or as a pandas DataFrame.

    Without ``curves`` the per-eigenfunction arrays are left out.  Records
    missing a column get NaN there in a frame (and no key in a list).
    """
    columns = ordered_columns(records, curves=curves)
    if not as_frame:
        return [{k: r[k] for k in columns if k in r} for r in records]
    pd = import_optional("pandas", purpose)
    return pd.DataFrame(
        [{k: r.get(k, float("nan")) for k in columns} for r in records],
        columns=columns,
    )
