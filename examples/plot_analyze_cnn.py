"""
=================================================
Every layer of a residual CNN, in one pass
=================================================

:func:`skfeat.torch.analyze` runs a network once over its training images and
once over held-out ones, accumulates each layer's moments on the fly -- no
feature matrix is ever stored -- and returns one record per layer: the
effective dimension :math:`D_\\lambda` of its spectrum, the held-out quality
:math:`Q(C)` and CKA minimal-feature measure, and the geometry of the class
clusters (NC1).  Here a small residual network, written like torchvision's
ResNets, learns scikit-learn's digits for a few epochs; its table before and
after training shows where along the depth the features learn the labels
(Nam et al., 2024).  Convolutional layers are read by their channel means, the
features a ResNet's own head reads.
"""

# %%
# A residual network on the digits
# --------------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from skfeat.plotting import LayerDisplay
from skfeat.torch import analyze

torch.set_num_threads(2)
torch.manual_seed(0)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)


class Block(nn.Module):
    """A basic residual block (its two ReLUs are separate modules)."""

    def __init__(self, channels_in, channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and channels_in == channels
            else nn.Conv2d(channels_in, channels, 1, stride, bias=False)
        )
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + self.shortcut(x))


net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1, bias=False),
    nn.BatchNorm2d(16),
    nn.ReLU(),
    Block(16, 16),
    Block(16, 32, stride=2),
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(32, 10),
)

# %%
# The table at initialisation
# ---------------------------
# ``layers="all"``: every leaf module that runs once per forward pass, in the
# order the forward pass calls them (Dropout and Identity left out).
before = analyze(net, X_train, X_test, y_train=y_train, y_test=y_test)
before[["layer", "n_features", "reduction", "D_lambda", "quality_at_C", "nc1"]]

# %%
# A few epochs of training
# ------------------------
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
data = torch.utils.data.TensorDataset(
    torch.from_numpy(X_train), torch.from_numpy(y_train)
)
loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
for epoch in range(4):
    net.train()
    for inputs, targets in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(inputs), targets).backward()
        optimizer.step()

# %%
# The same table after training: a shuffling loader carries its own labels,
# so it can be measured as it is.
after = analyze(net, loader, X_test, y_test=y_test)
after[["layer", "route", "D_lambda", "quality_at_C", "cka_mf", "test_accuracy"]]

# %%
# Against depth
# -------------
# Training concentrates the deep layers' features on the labels: their
# quality rises towards ``C = 10``, their class clusters collapse (NC1 falls)
# and CKA-MF falls towards the minimal-feature regime.
metrics = ["D_lambda", "quality_at_C", "cka_mf", "nc1"]
display = LayerDisplay.from_history(before, metrics=metrics, name="initialisation")
LayerDisplay.from_history(after, metrics=metrics, name="trained", axes=display.axes_)
for ax in display.axes_:
    ax.tick_params(axis="x", labelrotation=90, labelsize=6)
display.figure_.set_size_inches(10, 7)
display.figure_.tight_layout()
plt.show()
