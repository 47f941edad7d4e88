"""Naive float64 references of the projection and CKA measures, for tests.

Written independently of skfeat (dense SVD / QR, explicit projectors).  The
``measures`` fixture uses skfeat's own measures when they exist and installs
these otherwise, so that the report and the Displays can be tested before the
measures branch is merged; afterwards the tests compare skfeat with these.
"""

import numpy as np


def _target_matrix(y):
    y = np.asarray(y)
    if y.ndim == 2:
        return y.astype(np.float64)
    classes = np.unique(y)
    return (y[:, None] == classes[None, :]).astype(np.float64)


def _orth(A):
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    tol = s.max() * max(A.shape) * np.finfo(np.float64).eps
    return U[:, s > tol]


def naive_cumulative(E, Y):
    Q, _ = np.linalg.qr(np.asarray(E, dtype=np.float64))
    T = _orth(_target_matrix(Y))
    return np.cumsum(np.sum((Q.T @ T) ** 2, axis=1))


def naive_feature(E, Y):
    E = np.asarray(E, dtype=np.float64)
    T = _orth(_target_matrix(Y))
    P = T @ T.T
    return np.sum((P @ E) ** 2, axis=0) / np.sum(E**2, axis=0)


def naive_cka_mf(Phi, F):
    X = Phi - Phi.mean(axis=0)
    Z = _orth(np.asarray(F, dtype=np.float64))
    Z = Z - Z.mean(axis=0)
    cka = np.sum((X.T @ Z) ** 2) / (np.linalg.norm(X.T @ X) * np.linalg.norm(Z.T @ Z))
    return 1.0 - cka
