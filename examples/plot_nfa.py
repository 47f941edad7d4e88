"""
Neural feature ansatz and virtual covariance over training
==========================================================

A small MLP learns scikit-learn's digits with plain SGD.  Every epoch we
record, per layer, the NFA correlation ``rho(W^T W, AGOP)`` and the centred
C-NFA ``rho(dW^T K dW, dW^T dW)`` (Beaglehole et al.), with
:func:`skfeat.torch.alignment_per_layer`.  Over the whole run a
:class:`skfeat.torch.VirtualCovariance` recorder accumulates the virtual
covariance of each layer, which the Feature Learning Equation of Cha et al.
says matches the change of the weight Gram ``W^T W`` up to terms of order
``lr^2`` per step.
"""

# %%
# Data and model
# --------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from skfeat.torch import (
    VirtualCovariance,
    alignment_per_layer,
    feature_learning_equation,
)

torch.manual_seed(0)
X, y = load_digits(return_X_y=True)
X = torch.tensor(X / 16.0, dtype=torch.float32)
y = torch.tensor(y)
model = torch.nn.Sequential(
    torch.nn.Linear(64, 128),
    torch.nn.ReLU(),
    torch.nn.Linear(128, 128),
    torch.nn.ReLU(),
    torch.nn.Linear(128, 10),
)
layers = ["0", "2"]
init = {k: v.clone() for k, v in model.state_dict().items()}
opt = torch.optim.SGD(model.parameters(), lr=0.1)

# %%
# Train, recording NFA / C-NFA per epoch and VC over the run
# ----------------------------------------------------------
# The AGOP is taken on a fixed subset of 500 digits.  Epoch 0 is the fresh
# network (its C-NFA is undefined, ``dW = 0``, so it is not recorded).
probe = X[:500]
history = {layer: {"nfa": [], "cnfa": []} for layer in layers}
epochs = 15
with VirtualCovariance(model, layers, lr=opt) as vc:
    for epoch in range(epochs + 1):
        record = alignment_per_layer(
            model, probe, layers, init_state=init if epoch else None
        )
        for layer in layers:
            history[layer]["nfa"].append(record[layer]["nfa"])
            history[layer]["cnfa"].append(record[layer].get("cnfa", np.nan))
        if epoch == epochs:
            break
        for idx in torch.randperm(len(X)).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
accuracy = (model(X).argmax(1) == y).float().mean().item()
print(f"training accuracy {accuracy:.3f}")
for layer in layers:
    print(
        f"layer {layer}: NFA {history[layer]['nfa'][0]:.3f} -> "
        f"{history[layer]['nfa'][-1]:.3f}, C-NFA {history[layer]['cnfa'][-1]:.3f}"
    )
fle = feature_learning_equation(vc)
for layer, result in fle.items():
    print(
        f"layer {layer}: corr(VC, d(W^T W)) = {result['correlation']:.4f}, "
        f"relative error {result['relative_error']:.3f}"
    )

# %%
# Plots
# -----
fig, (ax_nfa, ax_vc) = plt.subplots(1, 2, figsize=(10, 4))
for layer in layers:
    ax_nfa.plot(history[layer]["nfa"], marker="o", label=f"NFA, layer {layer}")
    ax_nfa.plot(
        history[layer]["cnfa"], ls="--", marker="s", label=f"C-NFA, layer {layer}"
    )
ax_nfa.set_xlabel("epoch")
ax_nfa.set_ylabel("correlation")
ax_nfa.set_title("Neural feature ansatz over training")
ax_nfa.legend()

layer = layers[0]
change = vc.final_grams_[layer] - vc.initial_grams_[layer]
ax_vc.scatter(change.ravel(), vc.covariances_[layer].ravel(), s=2, alpha=0.5)
lim = np.abs(change).max()
ax_vc.plot([-lim, lim], [-lim, lim], color="k", lw=0.8)
ax_vc.set_xlabel(r"entries of $\Delta(W^\top W)$")
ax_vc.set_ylabel("entries of the virtual covariance")
ax_vc.set_title(f"Feature Learning Equation, layer {layer}")
fig.tight_layout()
plt.show()
