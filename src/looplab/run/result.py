"""What a run produced: the trained model, its history and where it was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from looplab.config import Config
from looplab.data.prepared import PreparedData
from looplab.loop.history import History
from looplab.models.cnn import CNN
from looplab.models.mlp import MLP, ModelSpec


@dataclass
class TrainResult:
    """What a run produced: the trained model, its history, and where it was written."""

    config: Config
    data: PreparedData
    spec: ModelSpec
    model: MLP | CNN
    history: History
    run_dir: Path | None = None
    # the kept model (the weights in model.pt) evaluated after training, split -> metric -> value
    final: dict[str, dict[str, float]] = field(default_factory=dict)
    kept_epoch: int = 0  # whose weights those are: the best epoch under early stopping

    @property
    def report(self) -> Path | None:
        return self.run_dir / "report.html" if self.run_dir else None

    @property
    def about_final(self) -> list[str]:
        """What the final metrics are, in words: which weights, how measured, in which units
        (the terminal prints these lines under its table, the report above its own)."""
        epochs = len(self.history)
        if self.config.patience > 0 and self.kept_epoch != epochs:
            kept = (f"epoch {self.kept_epoch} of {epochs}, restored by early stopping "
                    "(best validation loss)")  # fmt: skip
        elif self.config.patience > 0:
            kept = f"epoch {self.kept_epoch}, the best validation loss"
        else:
            kept = f"the weights after epoch {epochs}"
        lines = [f"metrics of the kept model: {kept}; saved in model.pt, measured on each "
                 "split after training (eval mode)"]  # fmt: skip
        pre = self.data.preprocessor
        if self.data.task == "regression" and pre is not None and pre.scales_target:
            lines.append("loss: MSE on the standardized target; mae: in the target's units")
        return lines


def run_title(result: TrainResult) -> str:
    """What was run, in one line: dataset, model, optimizer, batch size."""
    c, s = result.config, result.spec
    widths = "-".join(str(w) for w in (s.in_features, *s.hidden, s.out_features))
    extras = [s.activation] + ([f"{s.norm} norm"] if s.norm != "none" else [])
    extras += ["residual"] if s.residual and s.hidden else []
    model = f"MLP {widths} ({', '.join(extras)})" if s.hidden else f"linear {widths}"
    if s.kind == "cnn":  # LeNet-sized: two conv blocks, then the linear head
        image = "x".join(str(d) for d in s.input_shape)
        head = "-".join(str(w) for w in (*s.hidden, s.out_features))
        model = f"CNN {image}, conv 6-16, linear {head} ({s.activation})"
    return f"{result.data.name}: {model}, {c.optimizer} lr {c.lr:g}, batch {c.batch_size}"
