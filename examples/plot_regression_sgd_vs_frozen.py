"""
=======================================================
Regression: features learned by SGD versus frozen
=======================================================

The feature-map picture of Nam et al. (2024) is not limited to classifiers.
Here a small multilayer perceptron fits scikit-learn's Friedman #1 regression
problem in two ways:

* **SGD**: all layers trained by gradient descent on the squared error;
* **frozen**: the hidden layers stay at their random initialisation and only
  the read-out is fitted, by least squares.

Both are read with the same measures as a classifier, with the targets
read as real values (``target_type="values"``, see :ref:`target_type
<target_type>`): the target dimension ``t`` (here 1) takes the place of the
number of classes ``C``, ``R^2`` takes the place of the accuracy, and the
cumulative quality and utility are read at ``t + 1`` eigenfunctions -- the
first eigenfunction of the uncentred second moment is near-constant and
carries none of a centred target.  The class-only measures (neural
collapse, compression) do not apply; the target linearity does.
"""

# %%
# Data and the two networks
# -------------------------
# Everything runs on a CPU in a few seconds.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_friedman1
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skfeat import FeatureSpectrum
from skfeat.inspection import layerwise_report
from skfeat.plotting import ProjectionDisplay
from skfeat.torch import FeatureExtractor, FeatureTracker

# A network this small trains fastest on one thread (no thread hand-offs).
torch.set_num_threads(1)
X, y = make_friedman1(n_samples=1200, n_features=10, noise=0.5, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train = scaler.transform(X_train).astype(np.float32)
X_test = scaler.transform(X_test).astype(np.float32)
y_mean, y_std = y_train.mean(), y_train.std()
y_train = ((y_train - y_mean) / y_std).astype(np.float32)
y_test = ((y_test - y_mean) / y_std).astype(np.float32)


def make_network():
    torch.manual_seed(0)  # the same initialisation for both runs
    return torch.nn.Sequential(
        torch.nn.Linear(10, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )


# Both runs are measured over the same K << m eigenfunctions.
spectrum = FeatureSpectrum(n_components=36)


def tracker():
    return FeatureTracker(
        X_train,
        y_train,
        X_test,
        y_test,
        spectrum=spectrum,
        geometry=True,
        target_type="values",
    )


# SGD: all layers, full-batch Adam on the squared error, measured along the way.
sgd_net = make_network()
sgd_tracker = tracker()
optimizer = torch.optim.Adam(sgd_net.parameters(), lr=1e-2)
inputs, targets = torch.from_numpy(X_train), torch.from_numpy(y_train)[:, None]
epochs = 300
sgd_tracker.update(sgd_net, 0)
for epoch in range(1, epochs + 1):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(sgd_net(inputs), targets)
    loss.backward()
    optimizer.step()
    if epoch % 30 == 0:
        sgd_tracker.update(sgd_net, epoch)

# Frozen: hidden layers at initialisation, least-squares read-out (the bias is
# the constant column).
frozen_net = make_network()
extractor = FeatureExtractor(frozen_net).fit(X_train)
Phi = extractor.transform(X_train).astype(np.float64)
design = np.column_stack([Phi, np.ones(len(Phi))])
weights, *_ = np.linalg.lstsq(design, y_train.astype(np.float64), rcond=None)
with torch.no_grad():
    frozen_net[-1].weight.copy_(torch.from_numpy(weights[:-1])[None, :])
    frozen_net[-1].bias.fill_(float(weights[-1]))
frozen_tracker = tracker()
frozen_tracker.update(frozen_net, 0)

records = {"SGD": sgd_tracker.history[-1], "frozen": frozen_tracker.history[-1]}
for name, record in records.items():
    print(
        f"{name:>6}: test R^2 {record['test_r2']:.3f}  "
        f"Q(t+1) {record['quality_at_C']:.3f}  U(t+1) {record['utility_at_C']:.3f}  "
        f"D_lambda {record['D_lambda']:.1f}  CKA-MF {record['cka_mf']:.3f}  "
        f"target linearity {record['target_linearity']:.3f}"
    )

# %%
# Training, read through the measures
# -----------------------------------
# The SGD network's test ``R^2`` rises while the share of the target carried
# by its first ``t + 1 = 2`` eigenfunctions, ``Q(t + 1)``, rises with it, and
# CKA-MF falls: the features concentrate on the learned function.  The
# frozen network's values are the dashed levels.
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), layout="constrained")
history = sgd_tracker.history
for ax, key in zip(axes, ("test_r2", "quality_at_C", "cka_mf")):
    ax.plot([r["epoch"] for r in history], [r[key] for r in history], "o-")
    ax.axhline(records["frozen"][key], ls="--", color="C1", label="frozen")
    ax.set_xlabel("epoch")
    ax.set_title({"test_r2": "test $R^2$", "quality_at_C": "$Q(t+1)$"}.get(key, key))
axes[0].legend()
plt.show()

# %%
# Quality and utility
# -------------------
# :math:`Q(k)` (solid) measures how much of the centred target's
# one-dimensional span the first ``k`` eigenfunctions capture on the held-out
# samples; :math:`U(k)` (dashed) the same for the network's outputs.  The SGD
# features put the target into their leading eigenfunctions; the frozen random
# features spread it over many.
fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for name, record in records.items():
    ProjectionDisplay(
        record["cumulative_quality"],
        record["cumulative_utility"],
        n_classes=2,  # t + 1: where the record reads Q and U
        name=name,
    ).plot(ax=ax, xscale="log")
plt.show()

# %%
# Layer by layer
# --------------
# :func:`~skfeat.inspection.layerwise_report` with real targets reports the
# target linearity (how much of the centred target is a linear function of a
# layer's features) and the spectrum measures of every layer; the class-only
# columns are left out.
for name, net in (("SGD", sgd_net), ("frozen", frozen_net)):
    layers = FeatureExtractor(net, layers=["1", "3"]).fit(X_train)
    table = layerwise_report(
        layers, X_train, y_train, X_test, y_test, spectrum=spectrum, as_frame=True
    )
    print(name)
    print(table[["layer", "n_features", "quality_at_C", "target_linearity"]])
