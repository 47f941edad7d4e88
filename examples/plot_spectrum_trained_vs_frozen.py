"""
=======================================================
Spectrum of trained versus frozen features
=======================================================

Does training change *which* features a network computes, or only how it reads
them out?  We train a small multilayer perceptron on scikit-learn's digits in
two ways:

* **trained**: all layers trained by gradient descent;
* **frozen**: the hidden layers stay at their random initialisation and only
  the read-out is fitted, by least squares.

For each, :class:`~skfeat.FeatureSpectrum` diagonalises the uncentred second
moment of the last hidden layer's features on the training set, and the
eigenfunctions are evaluated on held-out digits.  Training concentrates the
spectrum on about ``C = 10`` directions (the minimal-feature regime of Nam et
al., 2024); frozen random features spread it out.
"""

# %%
# Data and the two networks
# -------------------------
# Everything runs on a CPU in a few seconds.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skfeat import FeatureSpectrum
from skfeat.plotting import ProjectionDisplay, SpectrumDisplay

# A network this small trains fastest on one thread (no thread hand-offs).
torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)
scaler = StandardScaler().fit(X_train)
X_train = torch.tensor(scaler.transform(X_train), dtype=torch.float32)
X_test = torch.tensor(scaler.transform(X_test), dtype=torch.float32)
n_classes = 10


def make_network():
    torch.manual_seed(0)  # the same initialisation for both runs
    hidden = torch.nn.Sequential(
        torch.nn.Linear(64, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 128),
        torch.nn.ReLU(),
    )
    return hidden, torch.nn.Linear(128, n_classes)


# Trained: all layers, full-batch Adam on the cross-entropy.
hidden, readout = make_network()
parameters = [*hidden.parameters(), *readout.parameters()]
optimizer = torch.optim.Adam(parameters, lr=1e-2)
targets = torch.tensor(y_train)
for step in range(100):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(readout(hidden(X_train)), targets)
    loss.backward()
    optimizer.step()

with torch.no_grad():
    trained = {
        "Phi_train": hidden(X_train).double().numpy(),
        "Phi_test": hidden(X_test).double().numpy(),
    }
    trained["outputs"] = readout(hidden(X_test)).double().numpy()

# Frozen: hidden layers at initialisation, least-squares read-out on one-hot
# targets (with a constant column for the bias).
hidden, _ = make_network()
with torch.no_grad():
    frozen = {
        "Phi_train": hidden(X_train).double().numpy(),
        "Phi_test": hidden(X_test).double().numpy(),
    }
design = np.column_stack([frozen["Phi_train"], np.ones(len(y_train))])
weights, *_ = np.linalg.lstsq(design, np.eye(n_classes)[y_train], rcond=None)
frozen["outputs"] = (
    np.column_stack([frozen["Phi_test"], np.ones(len(y_test))]) @ weights
)

for name, run in [("trained", trained), ("frozen", frozen)]:
    accuracy = np.mean(run["outputs"].argmax(axis=1) == y_test)
    print(f"{name}: test accuracy {accuracy:.3f}")

# %%
# The spectra
# -----------
# The spectrum is drawn as :math:`D_\lambda` reads it: the shares
# :math:`\lambda_k / \sum_{j \ge 2} \lambda_j` from ``k = 2`` on, with the
# first eigenvalue (of the near-constant eigenfunction) marked apart by a
# hollow circle and its share of the trace in the legend.  The shares do not
# depend on the feature scale, nor does :math:`D_\lambda`.  The dotted line
# marks ``k = C``: the trained features drop after it, the frozen ones decay
# slowly.
spectra = {
    name: FeatureSpectrum().fit(run["Phi_train"])
    for name, run in [("trained", trained), ("frozen", frozen)]
}
fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for name, spectrum in spectra.items():
    SpectrumDisplay.from_estimator(spectrum, n_classes=n_classes, name=name, ax=ax)
ax.set_title("Spectrum of the last hidden layer (digits)")
plt.show()

# %%
# Quality and utility
# -------------------
# :math:`Q(k)` (solid) measures how much of the 10-dimensional space of one-hot
# targets the first ``k`` eigenfunctions span on the held-out digits;
# :math:`U(k)` (dashed) the same for the span of the network's outputs.  The
# trained features reach the level ``C`` within about ``C`` eigenfunctions;
# the frozen ones need many more.  The ``k`` axis is logarithmic because the
# interesting part is ``k <= C``.
fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for name, run in [("trained", trained), ("frozen", frozen)]:
    ProjectionDisplay.from_estimator(
        spectra[name],
        run["Phi_test"],
        y_test,
        outputs=run["outputs"],
        name=name,
        ax=ax,
        xscale="log",
    )
plt.show()
