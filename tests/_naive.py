"""Naive float64 references of every measure, written from the spec, for tests.

Deliberately independent of skfeat and deliberately dense: SVDs, explicit
``m x m`` projectors and centring matrices, pseudo-inverses, loops over
classes.  Fine for the small samples of the tests; each measure of skfeat is
compared with the function here of the same name.
"""

import math

import numpy as np

EPS64 = np.finfo(np.float64).eps


# -- spectrum (spec section 1) ------------------------------------------------------


def spectrum(X, rtol=None):
    """Eigenpairs of X^T X / n from a dense float64 SVD, with the spec's sign rule.

    ``rtol``: eigenvalues above ``rtol * lambda_1`` are kept; by default
    ``max(n, p) * eps64`` (far below any eigenvalue the tests use).
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    lam = s**2 / n
    rtol = max(X.shape) * EPS64 if rtol is None else rtol
    rank = int(np.sum(lam > lam[0] * rtol))
    V = Vt[:rank].T
    pivot = np.argmax(np.abs(V), axis=0)
    V = V * np.sign(V[pivot, np.arange(rank)])
    return lam[:rank], V


def eigenfunctions(X_new, lam, V):
    return np.asarray(X_new, dtype=np.float64) @ V / np.sqrt(lam)


def hill(v):
    """exp(entropy) of v / sum(v), written out (0 log 0 = 0)."""
    v = np.asarray(v, dtype=np.float64)
    pi = v[v > 0] / v[v > 0].sum()
    return math.exp(-sum(p * math.log(p) for p in pi if p > 0))


# -- projections (spec section 2) ---------------------------------------------------


def target_matrix(y):
    """One-hot matrix of 1-D labels; a 2-D array as given."""
    y = np.asarray(y)
    if y.ndim == 2:
        return y.astype(np.float64)
    classes = np.unique(y)
    return (y[:, None] == classes[None, :]).astype(np.float64)


def basis(Y):
    """Orthonormal basis of span(Y) (dense SVD, numpy's matrix_rank rule)."""
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    r = np.linalg.matrix_rank(Y)
    return np.linalg.svd(Y, full_matrices=False)[0][:, :r]


def projector(A):
    """The m x m orthogonal projector onto span(A)."""
    T = basis(A)
    return T @ T.T


def feature_projection(E, Y):
    """q_k = ||P e_k||^2 / ||e_k||^2 with the explicit projector."""
    E = np.asarray(E, dtype=np.float64)
    P = projector(Y)
    return np.array([e @ P @ e / (e @ e) for e in E.T])


def cumulative_projection(E, Y):
    """C(k) = ||P_{span(e_1..e_k)} P_Y||_F^2 from explicit projectors."""
    E = np.asarray(E, dtype=np.float64)
    PY = projector(Y)
    return np.array(
        [np.sum((projector(E[:, :k]) @ PY) ** 2) for k in range(1, E.shape[1] + 1)]
    )


# -- CKA (spec section 4) -----------------------------------------------------------


def cka_kernels(K, L):
    """CKA of two m x m kernels with the explicit centring matrix H."""
    m = K.shape[0]
    H = np.eye(m) - np.ones((m, m)) / m
    Kc, Lc = H @ K @ H, H @ L @ H
    return np.sum(Kc * Lc) / (np.linalg.norm(Kc) * np.linalg.norm(Lc))


def cka_mf(Phi, F):
    """1 - CKA(Phi Phi^T, P_F) from explicit m x m kernels."""
    Phi = np.asarray(Phi, dtype=np.float64)
    return 1.0 - cka_kernels(Phi @ Phi.T, projector(F))


def debiased_linear_cka(X, Y):
    """Unbiased HSIC estimator (Song et al. 2012) of linear kernels, m x m."""
    X, Y = (np.asarray(a, dtype=np.float64) for a in (X, Y))
    m = len(X)

    def hsic(K, L):
        K, L = K.copy(), L.copy()
        np.fill_diagonal(K, 0)
        np.fill_diagonal(L, 0)
        one = np.ones(m)
        return (
            np.trace(K @ L)
            + (one @ K @ one) * (one @ L @ one) / ((m - 1) * (m - 2))
            - 2 / (m - 2) * (one @ K @ L @ one)
        ) / (m * (m - 3))

    K, L = X @ X.T, Y @ Y.T
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


# -- layerwise geometry and neural collapse (spec section 5) -----------------------


def geometry(H, y, *, global_mean="samples", weights=None):
    """Every class-geometry measure from explicit per-class loops."""
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y)
    classes = np.unique(y)
    K, n = classes.size, H.shape[0]
    means = np.array([H[y == c].mean(axis=0) for c in classes])
    grand = H.mean(axis=0) if global_mean == "samples" else means.mean(axis=0)
    centred_rows = H - means[np.searchsorted(classes, y)]
    sigma_w = centred_rows.T @ centred_rows / n
    M = means - grand
    sigma_b = M.T @ M / K
    unit = means / np.linalg.norm(means, axis=1, keepdims=True)
    cos = unit @ unit.T
    off = ~np.eye(K, dtype=bool)
    var = np.array(
        [np.mean(np.sum((H[y == c] - m) ** 2, axis=1)) for c, m in zip(classes, means)]
    )
    pairs = [
        (var[i] + var[j]) / (2 * np.sum((means[i] - means[j]) ** 2))
        for i in range(K)
        for j in range(i + 1, K)
    ]
    etf = (np.eye(K) - 1 / K) / np.sqrt(K - 1)
    norms = np.linalg.norm(M, axis=1)
    M_unit = M / norms[:, None]
    centred_cos = (M_unit @ M_unit.T)[np.triu_indices(K, k=1)]
    dists = ((H[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)

    def etf_error(G):
        return np.linalg.norm(G / np.linalg.norm(G) - etf)

    result = {
        "compression": np.trace(sigma_w) / np.trace(sigma_b),
        "discrimination": 1 - cos[off].max(),
        "nc1": np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=1e-10)) / K,
        # Papyan, Han and Donoho's code: torch.std, unbiased (ddof=1).
        "nc2_equinorm": norms.std(ddof=1) / norms.mean(),
        "nc2_equiangularity": centred_cos.std(ddof=1) if centred_cos.size > 1 else 0.0,
        "nc2_max_angle": np.mean(np.abs(centred_cos + 1 / (K - 1))),
        "nc2_etf": etf_error(M @ M.T),
        "cdnv": np.mean(pairs),
        "M": M,
        "ncc": classes[np.argmin(dists, axis=1)],
    }
    if weights is not None:
        W = np.asarray(weights, dtype=np.float64)
        result["nc3"] = np.sum((W / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2)
        result["nc3_etf"] = etf_error(W @ M.T)
    return result


def rank_share(H, share):
    """Fewest singular values of H carrying ``share`` of their sum."""
    s = np.linalg.svd(np.asarray(H, dtype=np.float64), compute_uv=False)
    return int(np.argmax(np.cumsum(s) / s.sum() >= share - 1e-12) + 1)


def linearity(H, Y):
    """1 - ||Y - P_H Y||^2 / ||Y - Ybar||^2 with P_H = H H^+ (dense, float64).

    ``Y``: the target matrix (a vector is one column); see :func:`target_matrix`.
    """
    H = np.asarray(H, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(H), -1)
    Y = Y - Y.mean(axis=0)
    P = H @ np.linalg.pinv(H)  # n x n projector: fine on a test-sized sample
    return 1 - np.sum((Y - P @ Y) ** 2) / np.sum(Y**2)


# -- regression (target_type="values") ----------------------------------------------


def r2(Y, F):
    """R^2 of predictions F for targets Y, each column, averaged uniformly."""
    Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
    F = np.asarray(F, dtype=np.float64).reshape(len(F), -1)
    scores = [
        1 - np.sum((Y[:, j] - F[:, j]) ** 2) / np.sum((Y[:, j] - Y[:, j].mean()) ** 2)
        for j in range(Y.shape[1])
    ]
    return float(np.mean(scores))
