"""The manual engine: ``fit`` trains a looplab MLP with the hand-written forward and backward.

:func:`manual_engine` turns an ``MLP`` into the two things the loop calls, with the same call
shape as the autograd path, so ``fit``'s step reads the same for both engines::

    logits = model(xb)          # ManualModel: the numpy forward of ManualMLP
    loss = loss_fn(logits, yb)  # ManualLossFn: a scalar tensor ...
    optimizer.zero_grad()
    loss.backward()             # ... whose backward is the hand-written one, writing p.grad
    optimizer.step()            # any optimizer that reads p.grad: fused, torch.optim, scratch

The weights stay the MLP's own parameters: the engine moves them into one flat array
(:mod:`looplab.manual.flat`), computes on numpy views of them (no copy) and writes its
gradients into views of one flat gradient array that are the parameters' ``p.grad``, so
optimizers, checkpoints, saving and reports do not know which engine ran, and the fused
optimizers of :mod:`looplab.manual.fused` update all the weights with a few array operations.
It is fast because numpy's per-operation cost on small arrays is a fraction of autograd's
(graph building) and of torch's dispatch (see benchmarks/fit_speed.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from looplab.errors import ConfigError
from looplab.manual.flat import FlatParameters
from looplab.manual.layers import Array
from looplab.manual.losses import LOSSES
from looplab.manual.mlp import ManualMLP, check_supported
from looplab.models.mlp import MLP, check_input_width


class OneBlasThread:
    """While inside, numpy's BLAS (matrix products) runs on one thread.

    The engine's matrices are small: waking a second thread costs more than it saves, and on a
    busy machine far more (measured: a (64, 64) by (64, 128) product took 170 us with two
    OpenBLAS threads and 11 us with one). The previous thread count is restored on exit.
    Re-entrant: ``run.fit`` holds it around the whole loop, so the engine's own forward and
    backward (which also hold it, for callers that train without ``run.fit``) cost nothing.
    """

    def __init__(self) -> None:
        # libraries already on one thread (OPENBLAS_NUM_THREADS=1, threadpool_limits) are left
        # alone: asking costs as much as a small matrix product
        self.libs = [lib for lib in blas_libraries() if lib.get_num_threads() > 1]
        self.saved = [1] * len(self.libs)  # thread counts found on entry, restored on exit
        self.depth = 0  # how many times entered and not yet left

    def __enter__(self) -> None:
        self.depth += 1
        if self.depth == 1:
            for i, lib in enumerate(self.libs):
                self.saved[i] = threads = lib.get_num_threads()
                if threads > 1:
                    lib.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        if self.depth == 0:
            for lib, threads in zip(self.libs, self.saved, strict=True):
                if threads > 1:
                    lib.set_num_threads(threads)


@functools.cache
def blas_libraries() -> list[Any]:
    """threadpoolctl's handles on the BLAS libraries numpy loaded (found once per process)."""
    from threadpoolctl import ThreadpoolController

    return [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]


class Engine:
    """The hand-built network over the MLP's own parameters, kept flat (:mod:`flat`), and the
    gradient writer."""

    def __init__(self, model: MLP) -> None:
        self.one_thread = OneBlasThread()
        self.model = model
        self.flat = FlatParameters(list(model.parameters()))  # fc1.weight, fc1.bias, fc2...
        views = self.flat.grad_views
        # each layer's backward writes its gradients straight into the flat gradient
        self.net = ManualMLP.from_module(
            model, grads_into=list(zip(views[::2], views[1::2], strict=True))
        )
        self.last_logits: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in) float tensor on the CPU -> (batch, out) logits (sharing numpy's memory)."""
        if self.flat.moved():  # a parameter was given new memory (p.data = ...): take it back
            self.flat.adopt()
        with self.one_thread:
            self.last_logits = torch.from_numpy(self.net.forward(x.numpy()))
        return self.last_logits

    def backward(self, logits: Tensor, grad_logits: Array) -> None:
        """Backpropagate dL/dlogits into ``p.grad``, adding to what is there (as autograd does).

        After ``zero_grad()`` (every ``p.grad`` None) the layers write the gradients straight
        into the flat gradient and each ``p.grad`` becomes its view: nothing is copied."""
        if logits is not self.last_logits:
            raise RuntimeError("the manual engine's backward needs the logits of its last forward")
        params, flat = self.flat.params, self.flat
        held = [p.grad for p in params]
        fresh = all(g is None for g in held)
        before = None if fresh else flat.grads.copy()  # (total,) to add the new gradients to
        with self.one_thread:
            self.net.backward(grad_logits)  # into flat.grads
        for p, g, mine, where in zip(params, held, flat.grad_tensors, flat.slices, strict=True):
            if g is None:
                p.grad = mine
            elif g is mine:
                assert before is not None
                flat.grads[where] += before[where]
            else:  # a gradient tensor that is not the engine's: add into it
                g.add_(mine)


class ManualModel(nn.Module):
    """The MLP's own layers (same names, same parameters, same ``state_dict``), but called, it
    runs the hand-written numpy forward instead of the modules."""

    def __init__(self, model: MLP) -> None:
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        self.spec = model.spec
        self.engine = Engine(model)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_features) -> (batch, out_features) logits."""
        if x.ndim != 2 or x.shape[-1] != self.spec.in_features:
            check_input_width(x, self.spec.in_features)  # raises the course's ShapeError
        return self.engine.forward(x)

    # Called straight, without nn.Module's hook machinery (~7 us a call, a tenth of the numpy
    # step): the layers run as numpy inside, so a module hook would have nothing to see.
    __call__ = forward


class ManualLoss(Tensor):
    """A scalar loss tensor whose ``backward()`` runs the hand-written backward, not autograd."""

    __torch_function__ = torch._C._disabled_torch_function_impl  # type: ignore[assignment]
    run_backward: Callable[[], None]  # set by the loss function that made it

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: object = None,
    ) -> None:
        if gradient is not None or create_graph or inputs is not None:
            raise RuntimeError("the manual engine's loss.backward() takes no arguments")
        self.run_backward()


class ManualLossFn(nn.Module):
    """MSE, BCE-with-logits or cross-entropy (by task), by hand; same call as ``TaskLoss``."""

    def __init__(self, task: str, engine: Engine) -> None:
        super().__init__()
        self.task = task
        self.engine = engine
        self.fn = LOSSES[task]()  # keeps the last forward's values for its backward

    def forward(self, logits: Tensor, y: Tensor) -> ManualLoss:
        """logits (batch, outputs), y (batch,) -> the scalar mean loss, ready for backward()."""
        fn = self.fn
        value = fn.forward(logits.numpy(), y.numpy())
        loss: ManualLoss = Tensor._make_subclass(ManualLoss, torch.from_numpy(np.asarray(value)))
        engine = self.engine
        loss.run_backward = lambda: engine.backward(logits, fn.backward())
        return loss

    __call__ = forward  # as ManualModel: no module hooks to run


def manual_engine(model: nn.Module, task: str) -> tuple[ManualModel, ManualLossFn]:
    """The model-callable and loss of the manual engine for a CPU ``MLP``."""
    if not isinstance(model, MLP):
        raise ConfigError(
            f"the manual engine trains looplab MLPs, not {type(model).__name__}; "
            "use --engine autograd"
        )
    check_supported(model.spec)
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ConfigError("the manual engine runs on the CPU (numpy); use --device cpu")
    manual = ManualModel(model)
    return manual, ManualLossFn(task, manual.engine)
