"""
=================================================
Tracking feature learning during training
=================================================

:class:`skfeat.torch.FeatureTracker` records the measures of chosen layers
every few epochs of *your own* training loop; :class:`skfeat.plotting.TrainingDisplay`
draws its history.  Here a multilayer perceptron learns scikit-learn's digits:
watch the effective dimension :math:`D_\\lambda` of the hidden layers fall while
the quality :math:`Q(C)` of their first ``C = 10`` eigenfunctions rises and the
CKA minimal-feature measure falls: the features concentrate on the learned
function (Nam et al., 2024).
"""

# %%
# A network and a training loop
# -----------------------------
from collections import OrderedDict

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skfeat.plotting import LayerDisplay, TrainingDisplay
from skfeat.torch import FeatureTracker

# A network this small trains fastest on one thread (no thread hand-offs).
torch.set_num_threads(1)
torch.manual_seed(0)
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)
scaler = StandardScaler().fit(X_train)
X_train = scaler.transform(X_train).astype(np.float32)
X_test = scaler.transform(X_test).astype(np.float32)

net = torch.nn.Sequential(
    OrderedDict(
        fc1=torch.nn.Linear(64, 128),
        relu1=torch.nn.ReLU(),
        fc2=torch.nn.Linear(128, 128),
        relu2=torch.nn.ReLU(),
        readout=torch.nn.Linear(128, 10),
    )
)
# Layers by their names in ``net.named_modules()``: the two hidden layers.
tracker = FeatureTracker(
    X_train, y_train, X_test, y_test, layers=["relu1", "relu2"], every=5
)

optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
inputs, targets = torch.from_numpy(X_train), torch.from_numpy(y_train)
# Full-batch training: one gradient step is one epoch.  The tracker's epoch
# convention: epoch 0 is the state before training, epoch k the state after k
# epochs; every 5th is recorded, and the last one whatever ``every`` says.
epochs = 62
tracker.update(net, epoch=0)
for epoch in range(1, epochs + 1):
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(net(inputs), targets).backward()
    optimizer.step()
    tracker.update(net, epoch=epoch, force=epoch == epochs)

last = tracker.history[-1]
print(f"epoch {last['epoch']}: test accuracy {last['test_accuracy']:.3f}")

# %%
# The measures over training
# --------------------------
# One panel per measure, one line per layer; the test accuracy is the same
# for both layers and drawn once.
display = TrainingDisplay.from_tracker(
    tracker,
    metrics=["test_accuracy", "D_lambda", "quality_at_C", "cka_mf"],
)
display.figure_.suptitle("Feature learning in an MLP on digits")
plt.show()

# %%
# The layers at the start and at the end
# --------------------------------------
# :class:`~skfeat.plotting.LayerDisplay` takes the same records; ``epoch``
# picks one.  Training lowers :math:`D_\lambda` (most in the last hidden layer)
# and CKA-MF, and raises :math:`Q(C)`, in both layers.
metrics = ["D_lambda", "quality_at_C", "cka_mf"]
start = LayerDisplay.from_history(
    tracker.history, epoch=0, metrics=metrics, name="epoch 0"
)
end = LayerDisplay.from_history(
    tracker.history, metrics=metrics, name=f"epoch {last['epoch']}", axes=start.axes_
)
start.figure_.set_size_inches(10, 3.2)
plt.show()
