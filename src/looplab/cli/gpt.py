"""``looplab gpt``: train a tiny character-level GPT with looplab's loop, resume it, sample it.

    looplab gpt                                   # nanoGPT's CPU recipe on CPython's help text
    looplab gpt --resume runs/gpt-pydoc-...       # continue an interrupted run exactly
    looplab gpt --sample runs/gpt-pydoc-... --prompt "The " --temperature 0.8 --top-k 40

One flag per field of :class:`~looplab.experiments.gpt_config.GPTConfig`, generated from it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import typer

from looplab.cli import app
from looplab.cli.output import console, err_console, fmt
from looplab.experiments.gpt_config import GPT_HELP, GPTConfig

RESUME = typer.Option(None, "--resume", metavar="RUN_DIR",
                      help="continue this interrupted gpt run where it stopped")  # fmt: skip
SAMPLE = typer.Option(None, "--sample", metavar="RUN_DIR",
                      help="write text with this finished gpt run instead of training")  # fmt: skip
PROMPT = typer.Option(None, help="with --sample: the text to continue [default: a new line]")
TEMPERATURE = typer.Option(None, help="with --sample: <1 sharper, >1 flatter [default: 0.8]")
TOP_K = typer.Option(None, help="with --sample: draw among the k likeliest (0: all) [default: 40]")
LENGTH = typer.Option(None, help="with --sample: characters to write [default: 500]")
SAMPLING_DEFAULTS = {"prompt": "\n", "temperature": 0.8, "top_k": 40, "length": 500}
END_SAMPLE = 300  # characters of the sample printed after training


def gpt_options(func: Callable[..., object]) -> Callable[..., object]:
    """Add one flag per GPTConfig field (None: not given) to ``func``, which receives the given
    ones as ``overrides``."""
    own = [p for p in inspect.signature(func).parameters.values() if p.name != "overrides"]
    params, annotations = list(own), {p.name: p.annotation for p in own}
    names = [f.name for f in fields(GPTConfig)]
    for f in fields(GPTConfig):
        kind = {"int": int, "float": float}.get(str(f.type), str)
        default = getattr(GPTConfig(), f.name)
        shown = "the corpus and the time" if default is None else default
        option = typer.Option(None, "--" + f.name.replace("_", "-"),
                              help=f"{GPT_HELP[f.name]} \\[default: {shown}]")  # fmt: skip
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=kind | None))  # fmt: skip
        annotations[f.name] = kind | None

    @functools.wraps(func)
    def wrapper(**kwargs: object) -> object:
        overrides = {n: kwargs.pop(n) for n in names if kwargs.get(n) is not None}
        for n in names:
            kwargs.pop(n, None)
        return func(overrides=overrides, **kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = annotations
    return wrapper


@app.command()
@gpt_options
def gpt(
    resume: Path | None = RESUME,
    sample: Path | None = SAMPLE,
    prompt: str | None = PROMPT,
    temperature: float | None = TEMPERATURE,
    top_k: int | None = TOP_K,
    length: int | None = LENGTH,
    overrides: dict[str, object] | None = None,
) -> None:
    """Train a tiny character-level GPT (nanoGPT's CPU recipe) with looplab's own loop, on
    CPython's help text by default; or sample from a trained one with --sample."""
    from looplab.errors import ConfigError

    overrides = dict(overrides or {})
    sampling = {"prompt": prompt, "temperature": temperature, "top_k": top_k, "length": length}
    given = [f"--{k.replace('_', '-')}" for k, v in sampling.items() if v is not None]
    if sample is not None:
        if resume is not None or set(overrides) - {"seed"}:
            raise ConfigError("--sample takes only --prompt, --temperature, --top-k, --length "
                              "and --seed; drop the other flags")  # fmt: skip
        values = {k: SAMPLING_DEFAULTS[k] if v is None else v for k, v in sampling.items()}
        seed = overrides.get("seed", 0)
        assert isinstance(seed, int)  # typer parsed it
        write_sample(sample, seed, **values)  # type: ignore[arg-type]
        return
    if given:
        one = len(given) == 1
        raise ConfigError(f"{', '.join(given)} {'is' if one else 'are'} for --sample RUN_DIR "
                          f"only; drop {'it' if one else 'them'} to train")  # fmt: skip
    train(resume, overrides)


def write_sample(
    run: Path, seed: int, prompt: str, temperature: float, top_k: int, length: int
) -> None:
    """Print ``length`` characters that continue ``prompt``, from the run's model."""
    from looplab.errors import ConfigError
    from looplab.experiments.gpt_sampling import check_sampling, load_gpt, sample_text

    check_sampling(temperature, top_k)
    if length < 1:
        raise ConfigError(f"length must be a positive whole number, got {length}")
    saved = load_gpt(run)
    unknown = saved.vocab.unknown(prompt)
    if unknown:
        err_console.print(f"[yellow]note:[/] the prompt's {unknown!r} are not in the run's "
                          "vocabulary; the model reads each as the unknown symbol",
                          highlight=False)  # fmt: skip
    context = saved.gpt.spec.context
    if len(prompt) > context:
        err_console.print(f"[yellow]note:[/] the model reads the last {context} characters of "
                          f"the prompt (its context)", highlight=False)  # fmt: skip
    text = sample_text(saved.gpt, saved.vocab, prompt, length, temperature=temperature,
                       top_k=top_k, seed=seed)  # fmt: skip
    console.print(prompt + text, highlight=False, markup=False, end="\n")


def train(resume: Path | None, overrides: dict[str, object]) -> None:
    """Train (or resume) a run; print what it reached against the text's baselines."""
    import math
    import shlex

    from looplab.experiments.gpt import gpt_run_config
    from looplab.experiments.gpt_config import gpt_config_from_dict
    from looplab.experiments.gpt_sampling import sample_text
    from looplab.gpt_pipeline import train_gpt
    from looplab.report.gpt import gpt_title
    from looplab.watch.interrupt import Interrupted, SignalCatcher
    from looplab.watch.progress import StepProgressBar

    def note(line: str) -> None:
        err_console.print(line, highlight=False, soft_wrap=True)

    if resume is not None:
        config = gpt_run_config(resume, overrides)
    else:
        config = gpt_config_from_dict(overrides).validate()
    bar = StepProgressBar(err_console, description="gpt")
    try:
        with SignalCatcher() as signals:
            run = train_gpt(config, [bar], resume=resume, signals=signals, on_note=note)
    except Interrupted as exc:
        if bar.progress is not None:
            bar.progress.stop()
        saved = (f"checkpoint saved: {exc.checkpoint}" if exc.checkpoint
                 else "stopped at once; the last good checkpoint is intact")  # fmt: skip
        err_console.print(f"interrupted ({exc}): {saved}", highlight=False, soft_wrap=True)
        if signals.run_dir is not None:
            command = f"looplab gpt --resume {shlex.quote(str(signals.run_dir))}"
            err_console.print(f"resume with: {command}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except BaseException:
        if bar.progress is not None:  # stopped on an error: clear the bar, keep the message
            bar.progress.live.transient = True
            bar.progress.stop()
        raise
    b = run.baselines
    nats = run.val_loss
    console.print(f"[bold]{gpt_title(run)}[/]")
    console.print(
        f"held-out loss {fmt(nats)} nats per character ({fmt(nats / math.log(2))} bits) after "
        f"{config.iterations} updates, in {run.history.seconds:.1f} s"
    )
    if b is not None:
        console.print(f"baselines: uniform ln V {fmt(b.uniform)}, unigram H1 {fmt(b.unigram)}, "
                      f"bigram H2 {fmt(b.bigram)} nats per character")  # fmt: skip
    text = sample_text(run.gpt, run.data.vocab, "\n", END_SAMPLE, temperature=0.8, top_k=40,
                       seed=config.seed)  # fmt: skip
    console.print("sample (temperature 0.8, top-k 40):", style="dim")
    console.print(text, highlight=False, markup=False)
    console.print(f"run saved in [bold]{run.run_dir}[/]")
    console.print(f"report: [bold]{run.report}[/]")
    if signals.signum is not None:  # it came while the finished run was being written
        err_console.print("interrupted after training had finished: the run is complete")
        raise typer.Exit(128 + signals.signum)
