"""The record schema: one name, one meaning, for every column of every table.

A *record* is one row of a skfeat table -- the measures of one layer (at one
epoch): :class:`skfeat.torch.FeatureTracker`'s history, ``skfeat report``,
:func:`skfeat.inspection.layerwise_report` and
:func:`skfeat.inspection.feature_record` all produce records with these keys,
each table a subset of them.  The plots take their axis labels and the report
its column titles and explanations from here, so a column is described once.
"""

from collections import namedtuple

__all__ = ["COLUMNS", "CURVES", "INDEX_KEYS", "SCALARS", "column_label"]

Column = namedtuple("Column", ["kind", "title", "label", "meaning"])

# In table order.  kind: "index" (identifies or sizes a record), "scalar" (a
# measure), "curve" (one value per eigenfunction).
COLUMNS = {
    "epoch": Column("index", "epoch", "epoch", "training epoch of the record."),
    "layer": Column("index", "layer", "layer", "name of the feature map."),
    "depth": Column("index", "depth", "depth", "position of the layer, 1 first."),
    "n_features": Column("index", "p", "features", "number of features p."),
    "reduction": Column(
        "index",
        "reduction",
        "reduction",
        "how a sample's activation became features (flatten, channel_mean, "
        "token_mean, ...; none for (n, p) activations).",
    ),
    "route": Column(
        "index",
        "route",
        "route",
        "how the spectrum was computed: gram (the p x p second moment), pooled "
        "(too wide: reduced to channel / token means first) or randomized (too "
        "wide: a one-pass Nystrom sketch of the leading eigenpairs).",
    ),
    "n_targets": Column(
        "index",
        "C",
        "target dimension",
        "target dimension: C classes (one-hot), or t target columns.",
    ),
    "target_type": Column(
        "index",
        "target",
        "target type",
        "how the targets were read: classes (one-hot labels) or values (real "
        "regression targets); see target_type.",
    ),
    "train_accuracy": Column(
        "scalar", "train acc.", "training accuracy", "accuracy on the training set."
    ),
    "test_accuracy": Column(
        "scalar", "test acc.", "test accuracy", "accuracy on the test set."
    ),
    "train_r2": Column(
        "scalar",
        "train R²",
        "training $R^2$",
        "R^2 of the network's outputs on the training set (regression; "
        "sklearn's r2_score, several targets averaged uniformly).",
    ),
    "test_r2": Column(
        "scalar",
        "test R²",
        "test $R^2$",
        "R^2 of the network's outputs on the test set (regression; sklearn's "
        "r2_score, several targets averaged uniformly).",
    ),
    "rank": Column(
        "scalar",
        "rank",
        "numerical rank",
        "number of eigenvalues of the training second moment above the rank rule.",
    ),
    "D_lambda": Column(
        "scalar",
        "D_λ",
        r"$D_\lambda$ (eigenvalues)",
        "effective number of eigenvalues (1 + Hill number of lambda_2, lambda_3, "
        "...): small = few dominant features.",
    ),
    "quality_at_C": Column(
        "scalar",
        "Q(C)",
        "quality $Q(C)$",
        "how much of the C-dimensional target space the first C eigenfunctions "
        "span on the test sample (C = perfect); for t regression targets Q(t + 1), "
        "as the near-constant first eigenfunction carries none of them (t = "
        "perfect).",
    ),
    "D_q": Column(
        "scalar",
        "D_q",
        "$D_q$ (qualities)",
        "effective number of eigenfunctions that carry the target (Hill number of "
        "the qualities q_k).",
    ),
    "utility_at_C": Column(
        "scalar",
        "U(C)",
        "utility $U(C)$",
        "how much of the span of the network's outputs the first C eigenfunctions "
        "span (C outputs of rank C: C = all); U(t + 1) for t regression targets.",
    ),
    "D_u": Column(
        "scalar",
        "D_u",
        "$D_u$ (utilities)",
        "effective number of eigenfunctions the outputs use (Hill number of the "
        "utilities u_k).",
    ),
    "cka_mf": Column(
        "scalar",
        "CKA-MF",
        "CKA-MF (0 = minimal features)",
        "1 - CKA between the feature kernel and the projector onto the outputs: "
        "0 = the features are just the outputs (minimal features).",
    ),
    "regime": Column(
        "scalar",
        "regime",
        "regime",
        "MF (minimal-feature: ~C eigenfunctions carry the learned function) when "
        "CKA-MF is at most the threshold (0.1 by default), else EF "
        "(extended-feature).",
    ),
    "compression": Column(
        "scalar",
        "compression",
        "within-class compression",
        "tr(Sigma_W) / tr(Sigma_B) on the training sample: smaller = classes more "
        "compressed.",
    ),
    "discrimination": Column(
        "scalar",
        "discrimination",
        "between-class discrimination",
        "1 - max cosine between class means (training sample): 1 = orthogonal.",
    ),
    "numerical_rank": Column(
        "scalar",
        "sv rank",
        "singular-value rank",
        "fewest singular values carrying 95 % of their sum (training sample).",
    ),
    "nc1": Column(
        "scalar",
        "NC1",
        "NC1",
        "tr(Sigma_W Sigma_B^+) / K on the training sample: 0 = neural collapse.",
    ),
    "target_linearity": Column(
        "scalar",
        "TL",
        "target linearity",
        "share of the centred targets linear in the features (training "
        "sample): 1 = linear.",
    ),
    "nfa": Column(
        "scalar",
        "NFA",
        "NFA",
        "correlation of W^T W with the AGOP of the layer (training sample).",
    ),
    "cnfa": Column(
        "scalar",
        "C-NFA",
        "C-NFA",
        "centred NFA: the same for the weight change since initialisation.",
    ),
    "seconds": Column(
        "index", "seconds", "seconds", "wall time of the measurement (bookkeeping)."
    ),
    "eigenvalues": Column(
        "curve", "eigenvalues", r"eigenvalue $\lambda_k$", "training eigenvalues."
    ),
    "quality": Column(
        "curve", "q_k", "quality $q_k$", "quality of each eigenfunction (test)."
    ),
    "cumulative_quality": Column(
        "curve", "Q(k)", "cumulative quality $Q(k)$", "cumulative quality (test)."
    ),
    "utility": Column(
        "curve", "u_k", "utility $u_k$", "utility of each eigenfunction (test)."
    ),
    "cumulative_utility": Column(
        "curve", "U(k)", "cumulative utility $U(k)$", "cumulative utility (test)."
    ),
}

INDEX_KEYS = tuple(k for k, c in COLUMNS.items() if c.kind == "index")
SCALARS = tuple(k for k, c in COLUMNS.items() if c.kind == "scalar")
CURVES = tuple(k for k, c in COLUMNS.items() if c.kind == "curve")


def column_label(name):
    """Axis label of a record column (the name itself when unknown).

    Examples
    --------
    >>> from skfeat.metrics._records import column_label
    >>> column_label("quality_at_C"), column_label("my_measure")
    ('quality $Q(C)$', 'my_measure')
    """
    column = COLUMNS.get(name)
    return name if column is None else column.label
