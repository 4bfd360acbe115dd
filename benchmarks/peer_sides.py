"""The sides that ``benchmarks/peers.py`` compares: one function each, trains an MLP on a
workload and returns a function giving the model's class labels for validation rows.

Every side trains the same architecture with the same data, optimizer, learning rate, batch
size and epochs, shuffles the training rows every epoch and computes the validation loss and
accuracy after every epoch (the library's own way where it has one). The PyTorch-based sides
start from the same initial weights. Frameworks are imported inside their function, so a
process that runs one side loads only that side's libraries.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

VAL_BATCH = 4096  # rows per validation batch, the same for every side (looplab's own)

Predict = Callable[[np.ndarray], np.ndarray]  # (rows, features) -> (rows,) class labels


@dataclass(frozen=True)
class Workload:
    """Data (numpy: float32 features, int64 labels) and the training to do on it."""

    name: str
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    hidden: tuple[int, ...]
    optimizer: str  # "adam" | "sgd" (plain: no momentum, no weight decay)
    lr: float
    batch: int
    epochs: int

    @property
    def classes(self) -> int:
        return int(max(self.y.max(), self.y_val.max())) + 1

    @property
    def binary(self) -> bool:
        return self.classes == 2

    @property
    def outputs(self) -> int:
        return 1 if self.binary else self.classes


# ---- PyTorch helpers shared by the torch-based sides -------------------------------------


def initial_model(w: Workload) -> Any:
    """looplab's MLP with its seeded initial weights: every torch-based side starts from these."""
    from looplab.models.mlp import ModelSpec, build_model

    return build_model(ModelSpec(w.X.shape[1], w.outputs, w.hidden, "relu"), seed=0)


def plain_copy(w: Workload) -> Any:
    """The same initial weights in a plain ``nn.Sequential`` of Linear and ReLU layers."""
    from torch import nn

    layers: list[nn.Module] = []
    for module in initial_model(w).children():
        layers.append(copy.deepcopy(module))
    return nn.Sequential(*layers)


def torch_optimizer(w: Workload, params: Any) -> Any:
    import torch

    if w.optimizer == "adam":
        return torch.optim.Adam(params, lr=w.lr)
    return torch.optim.SGD(params, lr=w.lr)


def torch_loss(w: Workload) -> Callable[[Any, Any], Any]:
    """BCE-with-logits on the single logit (binary), else cross-entropy."""
    from torch import nn

    if w.binary:
        bce = nn.BCEWithLogitsLoss()
        return lambda logits, y: bce(logits.squeeze(-1), y)
    return nn.CrossEntropyLoss()


def torch_targets(w: Workload, y: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(y).float() if w.binary else torch.from_numpy(y)


def torch_labels(w: Workload, logits: Any) -> Any:
    return (logits.squeeze(-1) > 0).long() if w.binary else logits.argmax(dim=-1)


def torch_predict(w: Workload, model: Any) -> Predict:
    import torch

    def predict(X: np.ndarray) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return np.asarray(torch_labels(w, model(torch.from_numpy(X))).numpy())

    return predict


def evaluate(w: Workload, model: Any, X_val: Any, y_val: Any, loss_fn: Any) -> tuple[float, float]:
    """Validation loss and accuracy in batches of VAL_BATCH rows, without gradients."""
    import torch

    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(X_val), VAL_BATCH):
            logits, yb = model(X_val[i : i + VAL_BATCH]), y_val[i : i + VAL_BATCH]
            total += float(loss_fn(logits, yb)) * len(yb)
            correct += int((torch_labels(w, logits) == yb.long()).sum())
    return total / len(X_val), correct / len(X_val)


# ---- the sides ---------------------------------------------------------------------------


def looplab_fit(w: Workload, engine: str = "autograd", threads: int = 1) -> Predict:
    """``looplab.fit(model, data, config)``: the README's one call."""
    import torch

    import looplab
    from looplab.data.prepared import PreparedData
    from looplab.data.split import Split
    from looplab.task import Task

    task: Task = "binary" if w.binary else "multiclass"
    train = Split(torch.from_numpy(w.X), torch_targets(w, w.y))
    val = Split(torch.from_numpy(w.X_val), torch_targets(w, w.y_val))
    classes = [str(c) for c in range(int(w.y.max()) + 1)] if task == "multiclass" else []
    data = PreparedData(train=train, val=val, task=task, class_names=classes)
    config = looplab.Config(
        optimizer=w.optimizer,
        lr=w.lr,
        batch_size=w.batch,
        epochs=w.epochs,
        engine=engine,
        device="cpu",
        threads=threads,
        seed=0,
    )
    model = initial_model(w)
    looplab.fit(model, data, config)
    return torch_predict(w, model)


def looplab_manual(w: Workload, threads: int = 1) -> Predict:
    """``looplab.fit`` with ``engine="manual"``: the hand-written numpy forward and backward."""
    return looplab_fit(w, engine="manual", threads=threads)


def slicing_loop(w: Workload, threads: int = 1) -> Predict:
    """The plain hand-written loop: shuffle the rows each epoch, slice batches, step."""
    import torch

    model, loss_fn = plain_copy(w), torch_loss(w)
    optimizer = torch_optimizer(w, model.parameters())
    X, y = torch.from_numpy(w.X), torch_targets(w, w.y)
    X_val, y_val = torch.from_numpy(w.X_val), torch_targets(w, w.y_val)
    g = torch.Generator().manual_seed(0)
    for _ in range(w.epochs):
        model.train()
        perm = torch.randperm(len(X), generator=g)
        Xs, ys = X[perm], y[perm]
        for i in range(0, len(X), w.batch):
            loss = loss_fn(model(Xs[i : i + w.batch]), ys[i : i + w.batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        evaluate(w, model, X_val, y_val, loss_fn)
    return torch_predict(w, model)


def dataloader_loop(w: Workload, threads: int = 1) -> Predict:
    """The same loop over ``DataLoader(TensorDataset(X, y), shuffle=True)``, as the course
    writes it first."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    model, loss_fn = plain_copy(w), torch_loss(w)
    optimizer = torch_optimizer(w, model.parameters())
    train = TensorDataset(torch.from_numpy(w.X), torch_targets(w, w.y))
    val = TensorDataset(torch.from_numpy(w.X_val), torch_targets(w, w.y_val))
    g = torch.Generator().manual_seed(0)
    loader = DataLoader(train, batch_size=w.batch, shuffle=True, generator=g)
    val_loader = DataLoader(val, batch_size=VAL_BATCH)
    for _ in range(w.epochs):
        model.train()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        total, correct = 0.0, 0
        with torch.no_grad():
            for xb, yb in val_loader:
                logits = model(xb)
                total += float(loss_fn(logits, yb)) * len(yb)
                correct += int((torch_labels(w, logits) == yb.long()).sum())
    return torch_predict(w, model)


def lightning(w: Workload, threads: int = 1) -> Predict:
    """PyTorch Lightning's Trainer, with the logger, progress bar, checkpointing and model
    summary off; a LightningModule whose validation_step logs loss and accuracy."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    net, loss_fn = plain_copy(w), torch_loss(w)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            xb, yb = batch
            return loss_fn(self.net(xb), yb)

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            xb, yb = batch
            logits = self.net(xb)
            self.log("val_loss", loss_fn(logits, yb))
            self.log("val_acc", (torch_labels(w, logits) == yb.long()).float().mean())

        def configure_optimizers(self) -> Any:
            return torch_optimizer(w, self.net.parameters())

    train = TensorDataset(torch.from_numpy(w.X), torch_targets(w, w.y))
    val = TensorDataset(torch.from_numpy(w.X_val), torch_targets(w, w.y_val))
    g = torch.Generator().manual_seed(0)
    trainer = L.Trainer(
        max_epochs=w.epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(
        Module(),
        DataLoader(train, batch_size=w.batch, shuffle=True, generator=g),
        DataLoader(val, batch_size=VAL_BATCH),
    )
    return torch_predict(w, net)


def skorch_net(w: Workload, threads: int = 1) -> Predict:
    """skorch's NeuralNet(Binary)Classifier with the validation rows as its validation split
    (its default callbacks score validation loss and accuracy every epoch)."""
    import torch
    from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split
    from torch import nn

    net_class: Any = NeuralNetBinaryClassifier if w.binary else NeuralNetClassifier
    module = plain_copy(w)
    if w.binary:  # skorch's binary classifier wants one logit per row: (rows,)
        module = nn.Sequential(module, nn.Flatten(0))
    optimizer = torch.optim.Adam if w.optimizer == "adam" else torch.optim.SGD
    criterion = nn.BCEWithLogitsLoss if w.binary else nn.CrossEntropyLoss
    val = Dataset(w.X_val, w.y_val.astype(np.float32) if w.binary else w.y_val)
    net = net_class(
        module=module,
        criterion=criterion,
        optimizer=optimizer,
        lr=w.lr,
        batch_size=w.batch,
        max_epochs=w.epochs,
        train_split=predefined_split(val),
        iterator_train__shuffle=True,
        iterator_valid__batch_size=VAL_BATCH,
        device="cpu",
        verbose=0,
    )
    torch.manual_seed(0)
    net.fit(w.X, w.y.astype(np.float32) if w.binary else w.y)
    return lambda X: np.asarray(net.predict(X))


def sklearn_mlp(w: Workload, threads: int = 1) -> Predict:
    """scikit-learn's MLPClassifier, one ``partial_fit`` per epoch (one pass over shuffled
    rows), scored on the validation rows after each; no L2 penalty, no momentum for SGD."""
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    solver: dict[str, Any] = {"solver": w.optimizer}
    if w.optimizer == "sgd":
        solver["momentum"] = 0.0
    clf = MLPClassifier(
        hidden_layer_sizes=w.hidden,
        activation="relu",
        alpha=0.0,
        batch_size=w.batch,
        learning_rate_init=w.lr,
        shuffle=True,
        random_state=0,
        **solver,
    )
    classes = np.arange(w.classes)
    with threadpool_limits(threads):
        for _ in range(w.epochs):
            clf.partial_fit(w.X, w.y, classes=classes)
            for i in range(0, len(w.X_val), VAL_BATCH):
                proba = clf.predict_proba(w.X_val[i : i + VAL_BATCH])
                log_loss(w.y_val[i : i + VAL_BATCH], proba, labels=classes)
                (proba.argmax(axis=1) == w.y_val[i : i + VAL_BATCH]).mean()
    return lambda X: np.asarray(clf.predict(X))


def keras_torch(w: Workload, threads: int = 1) -> Predict:
    """Keras 3 on its torch backend: Sequential Dense layers, ``fit`` with validation data,
    no XLA/torch.compile (``jit_compile=False``); Adam's epsilon set to torch's 1e-8."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    keras.utils.set_random_seed(0)
    layers: list[Any] = [keras.Input((w.X.shape[1],))]
    layers += [keras.layers.Dense(width, activation="relu") for width in w.hidden]
    model = keras.Sequential([*layers, keras.layers.Dense(w.outputs)])
    if w.binary:
        loss: Any = keras.losses.BinaryCrossentropy(from_logits=True)
        metric: Any = keras.metrics.BinaryAccuracy(threshold=0.0)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metric = keras.metrics.SparseCategoricalAccuracy()
    if w.optimizer == "adam":
        optimizer: Any = keras.optimizers.Adam(learning_rate=w.lr, epsilon=1e-8)
    else:
        optimizer = keras.optimizers.SGD(learning_rate=w.lr)
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric], jit_compile=False)
    y, y_val = (w.y.astype(np.float32), w.y_val.astype(np.float32)) if w.binary else (w.y, w.y_val)
    model.fit(
        w.X,
        y,
        batch_size=w.batch,
        epochs=w.epochs,
        validation_data=(w.X_val, y_val),
        validation_batch_size=VAL_BATCH,
        shuffle=True,
        verbose=0,
    )

    def predict(X: np.ndarray) -> np.ndarray:
        logits = np.asarray(model.predict(X, batch_size=VAL_BATCH, verbose=0))
        return (logits[:, 0] > 0).astype(np.int64) if w.binary else logits.argmax(axis=1)

    return predict


# name -> (train function, the module that must be installed, how it is described)
SIDES: dict[str, tuple[Callable[..., Predict], str, str]] = {
    "slicing loop": (slicing_loop, "torch", "plain PyTorch loop, slicing batches (the baseline)"),
    "looplab fit": (looplab_fit, "looplab", "looplab.fit(model, data, config), autograd"),
    "looplab manual": (looplab_manual, "looplab", 'looplab.fit, engine="manual"'),
    "DataLoader loop": (dataloader_loop, "torch", "the same loop over DataLoader(TensorDataset)"),
    "Lightning": (lightning, "lightning", "lightning.Trainer, logger/bar/checkpoints/summary off"),
    "skorch": (skorch_net, "skorch", "skorch NeuralNet(Binary)Classifier"),
    "scikit-learn": (sklearn_mlp, "sklearn", "MLPClassifier, partial_fit per epoch"),
    "Keras (torch)": (keras_torch, "keras", "Keras 3, KERAS_BACKEND=torch, jit_compile off"),
}
