"""Scorers in scikit-learn model selection, checked against direct computation."""

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skfeat import FeatureSpectrum
from skfeat.metrics import (
    cka_mf,
    cumulative_quality,
    cumulative_utility,
    get_scorer,
    get_scorer_names,
    make_cka_mf_scorer,
    make_quality_scorer,
    make_utility_scorer,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], 30)
    Phi = np.eye(3)[y] @ rng.normal(size=(3, 6)) + 0.5 * rng.normal(size=(90, 6))
    F = Phi @ rng.normal(size=(6, 3))
    return Phi, y, F


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def make_pipe(n_components=None):
    return Pipeline(
        [
            ("scale", StandardScaler(with_mean=False)),
            ("spectrum", FeatureSpectrum(n_components=n_components)),
        ]
    )


def test_names():
    assert get_scorer_names() == [
        "neg_cka_mf",
        "quality",
        "quality_centered",
        "utility",
    ]
    with pytest.raises(ValueError, match="not a skfeat scorer"):
        get_scorer("accuracy_of_features")
    assert get_scorer("quality") is not get_scorer("quality")


def test_quality_scorer_value_equals_direct_computation(data):
    Phi, y, _ = data
    est = FeatureSpectrum().fit(Phi[:60])
    E = est.transform(Phi[60:])
    expected = cumulative_quality(E, y[60:])[2] / 3
    assert get_scorer("quality")(est, Phi[60:], y[60:]) == pytest.approx(expected)
    assert est.score(Phi[60:], y[60:]) == pytest.approx(expected, abs=1e-12)
    expected_k5 = cumulative_quality(E, y[60:])[4] / 3
    assert make_quality_scorer(k=5)(est, Phi[60:], y[60:]) == pytest.approx(expected_k5)
    centred = cumulative_quality(E, y[60:], center_target=True)[1] / 2
    assert get_scorer("quality_centered")(est, Phi[60:], y[60:]) == pytest.approx(
        centred
    )


def test_k_larger_than_available_raises(data):
    Phi, y, _ = data
    est = FeatureSpectrum(n_components=2).fit(Phi)
    with pytest.raises(ValueError, match="k=4 is larger than the 2"):
        make_quality_scorer(k=4)(est, Phi, y)
    # Default k: all eigenfunctions when there are fewer than the classes.
    expected = cumulative_quality(est.transform(Phi), y)[1] / 3
    assert get_scorer("quality")(est, Phi, y) == pytest.approx(expected)


def test_cross_val_score_matches_manual_folds(data):
    Phi, y, _ = data
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(make_pipe(), Phi, y, cv=cv, scoring=get_scorer("quality"))
    manual = []
    for train, test in cv.split(Phi):
        pipe = make_pipe().fit(Phi[train])
        manual.append(cumulative_quality(pipe.transform(Phi[test]), y[test])[2] / 3)
    np.testing.assert_allclose(scores, manual, atol=1e-12)
    # scoring=None uses FeatureSpectrum.score: the same numbers.
    np.testing.assert_allclose(
        cross_val_score(make_pipe(), Phi, y, cv=cv), manual, atol=1e-12
    )


@pytest.mark.parametrize("search", ["grid", "random"])
def test_search_single_and_dict_scoring_parallel(data, search):
    Phi, y, _ = data
    grid = {"spectrum__n_components": [1, 3, 6]}
    scoring = {"q": get_scorer("quality"), "qc": get_scorer("quality_centered")}
    if search == "grid":
        gs = GridSearchCV(make_pipe(), grid, scoring=scoring, refit="q", cv=3, n_jobs=2)
    else:
        gs = RandomizedSearchCV(
            make_pipe(),
            grid,
            n_iter=3,
            scoring=scoring,
            refit="q",
            cv=3,
            n_jobs=2,
            random_state=0,
        )
    gs.fit(Phi, y)
    q = gs.cv_results_["mean_test_q"]
    assert np.all(np.isfinite(q)) and np.all((q >= 0) & (q <= 1))
    assert gs.best_params_["spectrum__n_components"] in (3, 6)
    single = GridSearchCV(make_pipe(), grid, scoring=get_scorer("quality"), cv=3)
    single.fit(Phi, y)
    np.testing.assert_allclose(
        single.cv_results_["mean_test_score"][[0, 1, 2]],
        gs.cv_results_["mean_test_q"][
            np.argsort(gs.cv_results_["param_spectrum__n_components"].astype(int))
        ],
        atol=1e-12,
    )


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_utility_scorer_through_metadata_routing(data, routing):
    Phi, y, F = data
    grid = {"spectrum__n_components": [1, 6]}
    # The plain "utility" scorer, with nothing set up beyond routing.
    gs = GridSearchCV(make_pipe(), grid, scoring=get_scorer("utility"), cv=3, n_jobs=2)
    gs.fit(Phi, y, outputs=F)
    assert np.all(np.isfinite(gs.cv_results_["mean_test_score"]))
    # The scorer's request is set at creation: the routing sees it.
    assert gs.scorer_.get_metadata_routing().consumes("score", ["outputs"])
    gs = GridSearchCV(make_pipe(), grid, scoring=make_utility_scorer(k=6), cv=3)
    with pytest.warns(UserWarning, match="k=6 is larger than the 1"):
        gs.fit(Phi, y, outputs=F)
    scores = gs.cv_results_["mean_test_score"]
    # The read-out is linear in Phi: all six eigenfunctions carry all of F...
    assert scores[1] == pytest.approx(1.0, abs=1e-9)
    # ...and a single one cannot (k=6 > 1 available raises, scored as NaN).
    assert np.isnan(scores[0])
    cv = KFold(3)
    res = cross_validate(
        make_pipe(),
        Phi,
        y,
        cv=cv,
        params={"outputs": F},
        scoring={
            "u": get_scorer("utility"),
            "cka": get_scorer("neg_cka_mf"),
            "q": get_scorer("quality"),
        },
    )
    for i, (train, test) in enumerate(cv.split(Phi)):
        pipe = make_pipe().fit(Phi[train])
        E = pipe.transform(Phi[test])
        assert res["test_u"][i] == pytest.approx(
            cumulative_utility(E, F[test])[2] / 3, abs=1e-12
        )
        # CKA-MF of the features the spectrum sees, not of the whitened E.
        Phi_test = pipe[:-1].transform(Phi[test])
        assert res["test_cka"][i] == pytest.approx(
            -cka_mf(Phi_test, F[test]), abs=1e-10
        )


def test_utility_scorer_direct_call_and_k(data, routing):
    Phi, _, F = data
    est = FeatureSpectrum().fit(Phi)
    E = est.transform(Phi)
    assert make_utility_scorer(k=2)(est, Phi, None, outputs=F) == pytest.approx(
        cumulative_utility(E, F)[1] / 3
    )
    assert make_cka_mf_scorer()(est, Phi, None, outputs=F) == pytest.approx(
        -cka_mf(Phi, F), abs=1e-10
    )


def test_without_routing_error_says_how_to_enable(data):
    Phi, y, F = data
    est = FeatureSpectrum().fit(Phi)
    for name in ("utility", "neg_cka_mf"):
        with pytest.raises(ValueError, match="enable_metadata_routing=True"):
            get_scorer(name)(est, Phi, y)
    gs = GridSearchCV(
        make_pipe(),
        {"spectrum__n_components": [2]},
        cv=2,
        scoring=get_scorer("utility"),
        error_score="raise",
    )
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        gs.fit(Phi, y)


def test_bad_factory_arguments():
    with pytest.raises(ValueError, match="k"):
        make_quality_scorer(k=0)
    with pytest.raises(ValueError, match="target"):
        make_quality_scorer(target_type="centred")
