"""
==========================================================
Which layer has the best features? A grid search
==========================================================

The quality scorer makes "how well do the first ``C`` eigenfunctions of this
layer span the targets?" a cross-validated score, so scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` can compare layers (and
networks) like any hyper-parameter.  The pipeline is

``FeatureExtractor(net, layers=...)  ->  FeatureSpectrum()``

and the score of a split is :math:`Q(C) / C` of the eigenfunctions fitted on the
training folds and evaluated on the held-out fold (1 = the first ``C``
eigenfunctions span all ``C`` one-hot targets).
"""

# %%
# A trained and an untrained network
# ----------------------------------
from collections import OrderedDict

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skfeat import FeatureSpectrum
from skfeat.metrics import make_quality_scorer
from skfeat.plotting import LayerDisplay
from skfeat.torch import FeatureExtractor

# A network this small trains fastest on one thread (no thread hand-offs).
torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X).astype(np.float32)


def make_network():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        OrderedDict(
            fc1=torch.nn.Linear(64, 128),
            relu1=torch.nn.ReLU(),
            fc2=torch.nn.Linear(128, 128),
            relu2=torch.nn.ReLU(),
            readout=torch.nn.Linear(128, 10),
        )
    )


untrained = make_network()
trained = make_network()
optimizer = torch.optim.Adam(trained.parameters(), lr=1e-2)
inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
for step in range(80):  # full-batch Adam
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(trained(inputs), targets).backward()
    optimizer.step()

# %%
# The grid: layers x networks
# ---------------------------
# ``"fc1:input"`` is the input itself; ``"relu1"`` and ``"relu2"`` are the
# hidden layers.  (For brevity the network was trained on all digits; to
# compare layers honestly, train it on data the search never scores.)
layers = ["fc1:input", "relu1", "relu2"]
pipeline = Pipeline(
    [("features", FeatureExtractor(trained)), ("spectrum", FeatureSpectrum())]
)
search = GridSearchCV(
    pipeline,
    {"features__layers": layers, "features__module": [trained, untrained]},
    scoring=make_quality_scorer(),
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
).fit(X, y)

results = pd.DataFrame(search.cv_results_)
results["network"] = [
    "trained" if module is trained else "untrained"
    for module in results["param_features__module"]
]
print(
    results.pivot(
        index="param_features__layers", columns="network", values="mean_test_score"
    ).loc[layers]
)
best = search.best_params_
print(
    "best:", best["features__layers"], "of the", results["network"][search.best_index_]
)

# %%
# Scores against depth
# --------------------
# :class:`~skfeat.plotting.LayerDisplay` draws the mean score of each layer for
# both networks.  Training raises the quality of both hidden layers; the
# untrained network's random ReLU features are hardly better than the input.
display = None
for network in ["trained", "untrained"]:
    rows = results[results["network"] == network].set_index("param_features__layers")
    display = LayerDisplay(
        layers,
        {"Q(C) / C (3-fold mean)": rows.loc[layers, "mean_test_score"].to_numpy()},
        name=network,
    ).plot(axes=None if display is None else display.axes_)
display.figure_.set_size_inches(5, 3.6)
plt.show()
