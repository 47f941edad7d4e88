"""
Layerwise compression and discrimination in a deep linear network
=================================================================

Wang et al. (arXiv:2311.02960) prove that a deep linear network trained on
nearly orthogonal inputs transforms its features with a simple pattern: each
layer shrinks the within-class variation by a roughly constant factor (a
straight line on a log scale) while the class means become more discriminated
at a roughly constant (linear) rate.

We train such a network with torch on synthetic data (full batch, a few
seconds of CPU) and measure every hidden layer with
:func:`skfeat.inspection.layerwise_report`, then fit the two rates.
"""

# %%
# Nearly orthogonal data and a deep linear network
# ------------------------------------------------
# ``n = 60`` random unit vectors in ``d = 100`` dimensions are nearly orthogonal;
# the labels are three balanced classes.  The network is seven bias-free linear
# layers of width 64 plus a linear read-out, orthogonally initialised.  A little
# weight decay steers gradient descent towards the minimum-norm, balanced
# weights of the theory.
import numpy as np
import torch

from skfeat.inspection import layerwise_report
from skfeat.plotting import LayerDisplay

# The matrices are tiny: one thread avoids threading overhead that would
# dominate the run time.
torch.set_num_threads(1)
torch.manual_seed(0)
rng = np.random.default_rng(0)
n_classes, per_class, d, width, depth = 3, 20, 100, 64, 7
X = rng.normal(size=(n_classes * per_class, d))
X /= np.linalg.norm(X, axis=1, keepdims=True)
y = np.repeat(np.arange(n_classes), per_class)

sizes = [d] + [width] * depth + [n_classes]
layers = [torch.nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:])]
for layer in layers:
    torch.nn.init.orthogonal_(layer.weight)
net = torch.nn.Sequential(*layers)

inputs = torch.tensor(X, dtype=torch.float32)
targets = torch.tensor(np.eye(n_classes)[y], dtype=torch.float32)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=1e-3)
for step in range(3000):
    optimizer.zero_grad()
    loss = 0.5 * ((net(inputs) - targets) ** 2).sum() / len(X)
    loss.backward()
    optimizer.step()
print(f"final training loss: {loss.item():.2e}")


# %%
# Features of every hidden layer
# ------------------------------
# :func:`~skfeat.inspection.layerwise_report` takes anything with an
# ``extract(X) -> {layer: features}`` method, such as
# :class:`skfeat.torch.FeatureExtractor`.  Here a few lines do the same for a
# plain stack of linear layers.
class HiddenLayers:
    def __init__(self, layers):
        self.layers = layers

    def extract(self, X):
        features, h = {}, torch.tensor(X, dtype=torch.float32)
        with torch.no_grad():
            for i, layer in enumerate(self.layers, start=1):
                h = layer(h)
                features[f"linear{i}"] = h.numpy().copy()
        return features


# Wang et al. measure the training sample itself: it is both samples here.
report = layerwise_report(HiddenLayers(layers[:-1]), X, y, X, y, as_frame=True)
# With fewer samples (60) than features (64) every target is linear in the
# features, so target linearity is trivially 1 here; see the digits example.
print(report.round(4).to_string(index=False))

# %%
# Fitted rates
# ------------
# A geometric decay of the compression is a linear fit of its logarithm
# against depth; the discrimination is fitted directly.
layer_depth = report["depth"].to_numpy()
log_slope, log_intercept = np.polyfit(layer_depth, np.log(report["compression"]), 1)
disc_slope, disc_intercept = np.polyfit(layer_depth, report["discrimination"], 1)
print(
    f"compression: x{np.exp(log_slope):.3f} per layer "
    f"(log-slope {log_slope:.3f}); "
    f"discrimination: {disc_slope:+.4f} per layer"
)

# %%
# Metric against depth
# --------------------
# The compression panel uses a log scale, so a geometric rate is a straight line.
axes = LayerDisplay.from_history(
    report, metrics=["compression", "discrimination", "nc1"]
).axes_
axes[0].plot(layer_depth, np.exp(log_intercept + log_slope * layer_depth), "k--")
axes[1].plot(layer_depth, disc_intercept + disc_slope * layer_depth, "k--")
