"""All of a model's weights in one numpy array and all of its gradients in another.

Every parameter ``p`` becomes a view of its slice of :attr:`FlatParameters.values` (``p.data``
is pointed there, with the same values), and its gradient a view of the same slice of
:attr:`FlatParameters.grads`. An optimizer can then update every parameter at once with a few
whole-array numpy operations instead of a few per parameter: for a small MLP the per-operation
cost, not the arithmetic, is most of an update (``benchmarks/fit_speed.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

Array = np.ndarray[Any, np.dtype[Any]]


class FlatParameters:
    """``values`` and ``grads``: (total,) arrays; ``value_views[i]`` and ``grad_views[i]`` are
    parameter ``i``'s slices in its own shape, ``grad_tensors[i]`` the tensor over
    ``grad_views[i]`` that the manual engine puts into ``p.grad``."""

    def __init__(self, params: list[Tensor]) -> None:
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1 or any(p.device.type != "cpu" for p in params):
            raise ValueError("flat parameters need CPU parameters of one dtype")
        self.params = params
        self.dtype = params[0].dtype
        dtype = torch.empty(0, dtype=self.dtype).numpy().dtype
        sizes = [p.numel() for p in params]
        self.values: Array = np.empty(sum(sizes), dtype)  # (total,) every weight, in order
        self.grads: Array = np.zeros(sum(sizes), dtype)  # (total,) every gradient, in order
        ends = np.cumsum(sizes)
        self.slices = [slice(end - size, end) for size, end in zip(sizes, ends, strict=True)]
        parts = list(zip(self.slices, [p.shape for p in params], strict=True))
        self.value_views = [self.values[where].reshape(shape) for where, shape in parts]
        self.grad_views = [self.grads[where].reshape(shape) for where, shape in parts]
        self.grad_tensors = [torch.from_numpy(g) for g in self.grad_views]
        self.pointers: list[int] = []
        self.adopt()

    def __len__(self) -> int:
        return len(self.values)

    def adopt(self) -> None:
        """Copy every parameter's current values into ``values`` and point the parameter at
        its slice (after construction, or when something gave a parameter new memory)."""
        with torch.no_grad():
            for p, view in zip(self.params, self.value_views, strict=True):
                if p.dtype != self.dtype:
                    raise ValueError("a parameter changed dtype after its flat copy was made")
                if p.data_ptr() != view.ctypes.data:
                    np.copyto(view, p.detach().numpy())
                    p.data = torch.from_numpy(view)
        self.pointers = [p.data_ptr() for p in self.params]

    def moved(self) -> bool:
        """Whether a parameter was given new memory (``p.data = ...``) since :meth:`adopt`."""
        return [p.data_ptr() for p in self.params] != self.pointers
