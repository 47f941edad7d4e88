"""Callbacks that drive a :class:`~skfeat.torch.FeatureTracker` where users train.

:class:`LightningFeatureTracker` is a Lightning ``Callback``;
:class:`SkorchFeatureTracker` a skorch ``Callback``.  Both follow the
tracker's epoch convention: the state before training is recorded as epoch
0, each epoch ``1, 2, ...`` when it is due (``every``), and the final state
when training ends, whatever ``every`` is.

Each class needs its framework (``pip install pytorch-lightning`` or
``pip install skorch``); importing this module does not, and constructing a
callback without it raises an ImportError that names the package.
"""

from ._tracker import FeatureTracker

__all__ = ["LightningFeatureTracker", "SkorchFeatureTracker"]


def _base(candidates):
    """Return the first importable base class, or ``(object, why)`` when none is."""
    reasons = []
    for module_name, attribute in candidates:
        try:
            module = __import__(module_name, fromlist=[attribute])
            return getattr(module, attribute), None
        except Exception as exc:  # ImportError, or a broken dependency
            reasons.append(f"{module_name}: {exc}")
    return object, "; ".join(reasons)


_LightningCallback, _NO_LIGHTNING = _base(
    [("lightning.pytorch", "Callback"), ("pytorch_lightning", "Callback")]
)
_SkorchCallback, _NO_SKORCH = _base([("skorch.callbacks", "Callback")])


def _check_tracker(tracker):
    if not isinstance(tracker, FeatureTracker):
        raise TypeError(f"tracker must be a FeatureTracker; got {tracker!r}.")


def _network(holder, module):
    if module is None:
        return holder
    if callable(module):
        return module(holder)
    return getattr(holder, module)


class LightningFeatureTracker(_LightningCallback):
    """A Lightning callback that records a :class:`FeatureTracker` every epoch.

    Records epoch 0 when fitting starts (a fresh run), each epoch
    ``trainer.current_epoch + 1`` at its end when due, and the final state
    when training ends, on the global-rank-zero process only.

    Parameters
    ----------
    tracker : FeatureTracker
        The tracker to drive; its ``history`` fills as training runs.
    module : str, callable or None, default=None
        The network the tracker measures: None for the ``LightningModule``
        itself (its ``forward`` maps inputs to outputs), an attribute name of
        it (e.g. ``"net"``), or a callable ``module(pl_module) -> nn.Module``.
        Layer names are relative to that network.

    See Also
    --------
    SkorchFeatureTracker : The same for skorch.
    skfeat.torch.FeatureTracker : What is recorded.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.torch import FeatureTracker
    >>> from skfeat.torch.callbacks import LightningFeatureTracker
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 4)).astype(np.float32), np.arange(40) % 2
    >>> tracker = FeatureTracker(X[:30], y[:30], X[30:], y[30:])
    >>> callback = LightningFeatureTracker(tracker, module="net")
    >>> # trainer = lightning.pytorch.Trainer(callbacks=[callback], max_epochs=3)
    >>> callback.tracker is tracker
    True
    """

    def __init__(self, tracker, module=None):
        if _NO_LIGHTNING:
            raise ImportError(
                "LightningFeatureTracker needs Lightning (pip install "
                f"pytorch-lightning), which cannot be imported here: {_NO_LIGHTNING}"
            )
        _check_tracker(tracker)
        super().__init__()
        self.tracker = tracker
        self.module = module

    def on_fit_start(self, trainer, pl_module):
        """Record the state before training (epoch 0) on a fresh run.

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        """
        if trainer.is_global_zero and trainer.current_epoch == 0:
            self.tracker.update(_network(pl_module, self.module), 0)

    def on_train_epoch_end(self, trainer, pl_module):
        """Record the epoch just finished, when due.

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        """
        if trainer.is_global_zero:
            epoch = trainer.current_epoch + 1
            self.tracker.update(_network(pl_module, self.module), epoch)

    def on_train_end(self, trainer, pl_module):
        """Record the final state, whatever ``every`` is.

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        """
        if trainer.is_global_zero:
            network = _network(pl_module, self.module)
            self.tracker.update(network, trainer.current_epoch, force=True)


class SkorchFeatureTracker(_SkorchCallback):
    """A skorch callback that records a :class:`FeatureTracker` every epoch.

    Records epoch 0 when training starts (a net with no history yet), each
    epoch ``len(net.history)`` at its end when due, and the final state when
    training ends.  The network measured is ``net.module_``.

    Parameters
    ----------
    tracker : FeatureTracker
        The tracker to drive; its ``history`` fills as training runs.

    See Also
    --------
    LightningFeatureTracker : The same for Lightning.
    skfeat.torch.FeatureTracker : What is recorded.

    Examples
    --------
    >>> import numpy as np
    >>> from skfeat.torch import FeatureTracker
    >>> from skfeat.torch.callbacks import SkorchFeatureTracker
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 4)).astype(np.float32), np.arange(40) % 2
    >>> tracker = FeatureTracker(X[:30], y[:30], X[30:], y[30:])
    >>> callback = SkorchFeatureTracker(tracker)
    >>> # net = skorch.NeuralNetClassifier(..., callbacks=[callback])
    >>> callback.tracker is tracker
    True
    """

    def __init__(self, tracker):
        if _NO_SKORCH:
            raise ImportError(
                "SkorchFeatureTracker needs skorch (pip install skorch), which "
                f"cannot be imported here: {_NO_SKORCH}"
            )
        _check_tracker(tracker)
        self.tracker = tracker

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Record the state before training (epoch 0) on a fresh net.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net.
        X, y : object
            The training data (unused: the tracker has its own).
        **kwargs : dict
            Other arguments from skorch (unused).
        """
        if len(net.history) == 0:
            self.tracker.update(net.module_, 0)

    def on_epoch_end(self, net, **kwargs):
        """Record the epoch just finished, when due.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net.
        **kwargs : dict
            Other arguments from skorch (unused).
        """
        self.tracker.update(net.module_, len(net.history))

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Record the final state, whatever ``every`` is.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net.
        X, y : object
            The training data (unused).
        **kwargs : dict
            Other arguments from skorch (unused).
        """
        self.tracker.update(net.module_, len(net.history), force=True)
