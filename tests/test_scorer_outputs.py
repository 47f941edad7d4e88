"""Utility / CKA-MF scorers: outputs from an extractor step, CKA of Phi (not E)."""

import numpy as np
import pytest
import sklearn
from _naive import cka_mf as naive_cka_mf
from _naive import cumulative_projection
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skfeat import FeatureSpectrum
from skfeat.metrics import get_scorer, make_cka_mf_scorer, make_utility_scorer

torch = pytest.importorskip("torch")

from skfeat.torch import FeatureExtractor  # noqa: E402


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(5, 7),
        torch.nn.Tanh(),
        torch.nn.Linear(7, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 3, bias=False),  # F linear in Phi: U(6) = r_F
    ).double()


def _data(n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 5))
    return X, np.arange(n) % 3


def _pipe(net, n_components=None, before=()):
    return Pipeline(
        [
            *before,
            ("features", FeatureExtractor(net)),
            ("spectrum", FeatureSpectrum(n_components=n_components)),
        ]
    )


def _forward(net, X, upto=None):
    with torch.no_grad():
        body = net if upto is None else net[:upto]
        return body(torch.from_numpy(X)).numpy()


def _naive_utility(E, F, k):
    """``U(k) / r_F`` from explicit m x m projectors."""
    return cumulative_projection(E, F)[k - 1] / np.linalg.matrix_rank(F)


def _kept_subspace(Phi_train, k):
    """Top ``k`` right singular vectors of the training features (p x k)."""
    return np.linalg.svd(Phi_train, full_matrices=False)[2][:k].T


@pytest.mark.parametrize("n_components", [None, 2])
def test_cross_validate_without_routing_matches_naive_folds(n_components):
    X, y = _data()
    net = _net()
    cv = KFold(3)
    res = cross_validate(
        _pipe(net, n_components),
        X,
        y,
        cv=cv,
        scoring={"u": get_scorer("utility"), "cka": get_scorer("neg_cka_mf")},
    )
    for i, (train, test) in enumerate(cv.split(X)):
        Phi_train, Phi_test = _forward(net, X[train], 4), _forward(net, X[test], 4)
        F = _forward(net, X[test])
        V = _kept_subspace(Phi_train, n_components or Phi_train.shape[1])
        lam = np.sum((Phi_train @ V) ** 2, axis=0) / len(train)
        E = Phi_test @ V / np.sqrt(lam)
        # k=None: k = min(r_F, K) eigenfunctions.
        assert res["test_u"][i] == pytest.approx(
            _naive_utility(E, F, min(3, E.shape[1])), abs=1e-8
        )
        # CKA-MF of Phi V V^T Phi^T: all components -> the spec's Phi Phi^T.
        assert res["test_cka"][i] == pytest.approx(
            -naive_cka_mf(Phi_test @ V, F), abs=1e-8
        )
        if n_components is None:
            assert res["test_cka"][i] == pytest.approx(
                -naive_cka_mf(Phi_test, F), abs=1e-8
            )


def test_grid_search_and_cross_val_score_take_outputs_from_the_extractor():
    X, y = _data()
    net = _net()
    grid = {"spectrum__n_components": [1, 6]}
    gs = GridSearchCV(_pipe(net), grid, scoring=get_scorer("utility"), cv=2)
    gs.fit(X, y)
    scores = gs.cv_results_["mean_test_score"]
    for K, score in zip([1, 6], scores):
        manual = []
        for train, test in KFold(2).split(X):
            E = _pipe(net, K).fit(X[train]).transform(X[test])
            manual.append(_naive_utility(E, _forward(net, X[test]), min(K, 3)))
        assert score == pytest.approx(np.mean(manual), abs=1e-8)
    # All six eigenfunctions span the last layer's input, hence F.
    full = make_utility_scorer(k=6)(_pipe(net).fit(X[:30]), X[30:], y[30:])
    assert full == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(
        cross_val_score(_pipe(net), X, y, cv=2, scoring=make_cka_mf_scorer()),
        [
            -naive_cka_mf(_forward(net, X[t], 4), _forward(net, X[t]))
            for _, t in KFold(2).split(X)
        ],
        atol=1e-8,
    )


def test_routed_outputs_win_over_the_extractor():
    X, y = _data()
    net = _net()
    other = np.random.default_rng(1).normal(size=(len(X), 2))
    cv = KFold(2)
    with sklearn.config_context(enable_metadata_routing=True):
        res = cross_validate(
            _pipe(net),
            X,
            y,
            cv=cv,
            params={"outputs": other},
            scoring={"cka": get_scorer("neg_cka_mf")},
        )
        # Routing on, nothing routed: the extractor supplies them.
        plain = cross_val_score(_pipe(net), X, y, cv=cv, scoring=make_cka_mf_scorer())
    for i, (_, test) in enumerate(cv.split(X)):
        Phi_test = _forward(net, X[test], 4)
        assert res["test_cka"][i] == pytest.approx(
            -naive_cka_mf(Phi_test, other[test]), abs=1e-8
        )
        assert plain[i] == pytest.approx(
            -naive_cka_mf(Phi_test, _forward(net, X[test])), abs=1e-8
        )


def test_extractor_after_a_preprocessing_step_sees_its_output():
    X, y = _data()
    net = _net()
    double = (("double", FunctionTransformer(lambda Z: 2 * Z)),)
    pipe = _pipe(net, before=double).fit(X)
    score = make_utility_scorer(k=1)(pipe, X, y)
    E = pipe.transform(X)
    assert score == pytest.approx(_naive_utility(E, _forward(net, 2 * X), 1), abs=1e-8)
    assert score != pytest.approx(_naive_utility(E, _forward(net, X), 1), abs=1e-6)


def test_without_outputs_anywhere_the_error_names_both_ways():
    X, _ = _data()
    spectrum = FeatureSpectrum().fit(X)
    for scorer in (get_scorer("utility"), get_scorer("neg_cka_mf")):
        with pytest.raises(ValueError, match="outputs\\(X\\) method"):
            scorer(spectrum, X, None)


def test_scorer_protocol():
    X, _ = _data()
    scorer = get_scorer("utility")
    assert scorer.get_metadata_routing().consumes("score", ["outputs"])
    with pytest.raises(TypeError, match="sample_weight"):
        scorer(FeatureSpectrum().fit(X), X, None, sample_weight=np.ones(len(X)))
    with pytest.raises(RuntimeError, match="enable_metadata_routing"):
        scorer.set_score_request(outputs=False)
    with sklearn.config_context(enable_metadata_routing=True):
        assert scorer.set_score_request(outputs="logits") is scorer
        request = scorer.get_metadata_routing()
        assert request.consumes("score", ["logits"]) == {"logits"}
    assert repr(make_utility_scorer(k=2)) == "make_utility_scorer(k=2)"
    # get_scorer hands out copies: the registered scorer is untouched.
    assert get_scorer("utility").get_metadata_routing().consumes("score", ["outputs"])


def test_cka_scorer_under_array_api_dispatch_with_torch():
    rng = np.random.default_rng(0)
    Phi = rng.normal(size=(50, 4))
    F = Phi @ rng.normal(size=(4, 2)) + 0.3 * rng.normal(size=(50, 2))
    with sklearn.config_context(array_api_dispatch=True):
        spectrum = FeatureSpectrum().fit(torch.from_numpy(Phi))
        score = make_cka_mf_scorer()(
            spectrum, torch.from_numpy(Phi), None, outputs=torch.from_numpy(F)
        )
    assert float(score) == pytest.approx(-naive_cka_mf(Phi, F), abs=1e-8)
