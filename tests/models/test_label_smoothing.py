r"""Label smoothing in the task's loss, against torch's ``cross_entropy(label_smoothing=...)``
and its closed form $(1 - \varepsilon)\,\mathrm{CE} + \varepsilon\,\mathrm{mean}_k(-\log p_k)$."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from looplab.models.losses import TaskLoss

g = torch.Generator().manual_seed(0)
LOGITS = torch.randn(32, 5, generator=g) * 3
LABELS = torch.randint(0, 5, (32,), generator=g)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_multiclass_smoothing_is_torchs(eps: float) -> None:
    ours = TaskLoss("multiclass", eps)(LOGITS, LABELS)
    torch.testing.assert_close(ours, F.cross_entropy(LOGITS, LABELS, label_smoothing=eps))
    log_p = F.log_softmax(LOGITS, dim=1)  # (batch, classes)
    closed = (1 - eps) * F.nll_loss(log_p, LABELS) + eps * (-log_p.mean(dim=1)).mean()
    torch.testing.assert_close(ours, closed)


def test_smoothing_raises_the_loss_of_a_confident_right_answer() -> None:
    confident = torch.tensor([[20.0, 0.0, 0.0]])
    y = torch.tensor([0])
    assert float(TaskLoss("multiclass")(confident, y)) < 1e-6
    # the smoothed target wants p_0 = 1 - eps + eps/3, not 1: 20 logits apart is too far
    assert float(TaskLoss("multiclass", 0.1)(confident, y)) > 1.0


@pytest.mark.parametrize("eps", [0.1, 0.25])
def test_binary_smoothing_is_two_class_cross_entropy(eps: float) -> None:
    z = torch.randn(40, 1, generator=g) * 2  # (batch, 1) logits of class 1
    y = (torch.rand(40, generator=g) > 0.5).float()
    ours = TaskLoss("binary", eps)(z, y)
    # sigmoid(z) is softmax([0, z])[1]: the same model as two-class logits
    two_class = torch.cat([torch.zeros_like(z), z], dim=1)  # (batch, 2)
    expected = F.cross_entropy(two_class, y.long(), label_smoothing=eps)
    torch.testing.assert_close(ours, expected)


def test_soft_labels_are_accepted_as_mixup_makes_them() -> None:
    soft = F.one_hot(LABELS, 5).float() * 0.7 + F.one_hot(LABELS.roll(1), 5).float() * 0.3
    ours = TaskLoss("multiclass")(LOGITS, soft)
    expected = -(soft * F.log_softmax(LOGITS, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(ours, expected)
