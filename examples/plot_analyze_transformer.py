"""
=================================================
A transformer on token sequences, block by block
=================================================

Token models take dicts of integer tensors -- ``input_ids`` and an
``attention_mask``, what a Hugging Face tokenizer returns -- and give
``(batch, seq, hidden)`` activations.  skfeat batches such dicts, never casts
token ids to float, and reduces each sample's sequence to features by a
documented rule: here the mean over its non-padding tokens
(``sequence_reduction="token_mean"``; ``"first_token"`` reads a ``[CLS]``
token).  A small transformer encoder learns a task on generated sequences of
variable length, while :class:`skfeat.torch.FeatureTracker` follows its last
block; :func:`skfeat.torch.analyze` then compares every block before and after
training.
"""

# %%
# Generated sequences and their labels
# ------------------------------------
# Each sequence holds 6 to 16 tokens from a vocabulary of 20 (0 pads); its
# label is which of the tokens 1, 2 and 3 it holds most often.
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from skfeat.plotting import LayerDisplay, TrainingDisplay
from skfeat.torch import FeatureTracker, analyze

torch.set_num_threads(2)
torch.manual_seed(0)
rng = np.random.default_rng(0)
n, length, vocabulary = 1200, 16, 20
ids = rng.integers(1, vocabulary, size=(n, length))
lengths = rng.integers(6, length + 1, size=n)
mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int64)
ids = ids * mask
counts = np.stack([(ids == token).sum(1) for token in (1, 2, 3)], axis=1)
keep = np.sort(counts, axis=1)[:, -1] > np.sort(counts, axis=1)[:, -2]  # no ties
ids, mask, y = ids[keep], mask[keep], np.argmax(counts[keep], axis=1)
inputs = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
n_train = int(0.7 * len(y))
train = {key: value[:n_train] for key, value in inputs.items()}
test = {key: value[n_train:] for key, value in inputs.items()}
y_train, y_test = y[:n_train], y[n_train:]


# %%
# A transformer encoder (batch first) with a classification head
# --------------------------------------------------------------
class TokenClassifier(nn.Module):
    def __init__(self, vocabulary, width=32, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width, padding_idx=0)
        self.position = nn.Parameter(0.02 * torch.randn(length, width))
        layer = nn.TransformerEncoderLayer(
            width, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(width, classes)

    def forward(self, input_ids, attention_mask):
        h = self.embed(input_ids) + self.position[: input_ids.shape[1]]
        h = self.encoder(h, src_key_padding_mask=attention_mask == 0)
        weights = attention_mask[..., None].to(h.dtype)
        pooled = (h * weights).sum(1) / weights.sum(1)
        return {"logits": self.head(pooled)}  # as a Hugging Face model would


net = TokenClassifier(vocabulary)
before = analyze(net, train, test, y_train=y_train, y_test=y_test, layers="blocks")

# %%
# Training, tracked
# -----------------
# The tracker reads the model's ``logits`` from its dict output, and the last
# block's output (``batch x seq x 32``) through the masked token mean.
tracker = FeatureTracker(
    train, y_train, test, y_test, layers=["encoder.layers.1"], geometry=True
)
optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
batches = [
    (
        {key: value[i : i + 64] for key, value in train.items()},
        torch.from_numpy(y_train[i : i + 64]),
    )
    for i in range(0, n_train, 64)
]
epochs = 8
tracker.update(net, 0)
for epoch in range(1, epochs + 1):
    net.train()
    for batch, targets in batches:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(**batch)["logits"], targets)
        loss.backward()
        optimizer.step()
    tracker.update(net, epoch, force=epoch == epochs)
tracker.to_frame()[["epoch", "test_accuracy", "D_lambda", "quality_at_C", "nc1"]]

# %%
TrainingDisplay.from_tracker(tracker, metrics=["quality_at_C", "cka_mf", "nc1"])
plt.show()

# %%
# Every block, before and after
# -----------------------------
# ``layers="blocks"`` reads the elements of the encoder's ``ModuleList``.
after = analyze(net, train, test, y_train=y_train, y_test=y_test, layers="blocks")
metrics = ["D_lambda", "quality_at_C", "cka_mf", "nc1"]
display = LayerDisplay.from_history(before, metrics=metrics, name="initialisation")
LayerDisplay.from_history(after, metrics=metrics, name="trained", axes=display.axes_)
plt.show()
