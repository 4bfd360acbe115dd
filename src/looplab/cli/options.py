"""Every config field as a command-line flag, generated from :class:`looplab.config.Config`.

Flags are read as text and parsed by :func:`looplab.config.coerce`, so a bad value gets the
same one-line message from a flag, a TOML file or a sweep. A flag that is not given is None and
leaves the TOML file's (or the default) value alone.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import overload

import typer

from looplab.config import HELP, Config, make_config

_METAVARS = {"int": "INT", "float": "FLOAT", "list[int]": "W,W,...", "list[str]": "A,B,..."}


def shown_default(name: str) -> str:
    """A field's default as a flag would write it: ``16,16``, ``full``, ``false``; None is
    said in words (``the dataset's``) since it has no flag spelling."""
    value = getattr(Config(), name)
    if value is None:
        return NONE_DEFAULTS.get(name, "none")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value)


# What a field left at None means (Config's None defaults).
NONE_DEFAULTS = {
    "n": "the dataset's",
    "noise": "the dataset's",
    "target": "none",
    "sep": "detected from the file",
    "name": "DATASET-MODEL-TIME",
}


def _option(name: str, kind: str, show_defaults: bool) -> tuple[object, object]:
    flag = "--" + name.replace("_", "-")
    # flags default to None ("not given"), so typer would show no default: say the field's
    help = HELP.get(name, "") + (f" \\[default: {shown_default(name)}]" if show_defaults else "")
    if kind == "bool":
        return bool | None, typer.Option(None, f"{flag}/--no-{flag[2:]}", help=help)
    metavar = next((v for k, v in _METAVARS.items() if kind.startswith(k)), "TEXT")
    if name == "batch_size":
        metavar = "INT|full"
    return str | None, typer.Option(None, flag, help=help, metavar=metavar)


@overload
def config_options(func: Callable[..., object]) -> Callable[..., object]: ...
@overload
def config_options(
    *, show_defaults: bool = True
) -> Callable[[Callable[..., object]], Callable[..., object]]: ...
def config_options(
    func: Callable[..., object] | None = None, *, show_defaults: bool = True
) -> Callable[..., object]:
    """Add one flag per config field (plus ``--config FILE``) to a typer command; each flag's
    help shows the :class:`~looplab.config.Config` default unless ``show_defaults`` is False
    (for commands that start from other defaults: ``compare``, ``regularize``).

    The command receives ``config_file`` and ``overrides`` (the flags that were given).
    """
    if func is None:
        return functools.partial(config_options, show_defaults=show_defaults)
    own = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.name not in ("overrides", "config_file")
    ]
    params = list(own)
    annotations: dict[str, object] = {p.name: p.annotation for p in own}
    params.append(
        inspect.Parameter(
            "config_file",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                None, "--config", help="TOML file with config fields; flags override it"
            ),
            annotation=Path | None,
        )
    )
    annotations["config_file"] = Path | None
    names = [f.name for f in fields(Config)]
    for f in fields(Config):
        annotation, default = _option(f.name, str(f.type), show_defaults)
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
        annotations[f.name] = annotation

    @functools.wraps(func)
    def wrapper(**kwargs: object) -> object:
        overrides = {n: kwargs.pop(n) for n in names if kwargs.get(n) is not None}
        for n in names:
            kwargs.pop(n, None)
        return func(overrides=overrides, **kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = annotations
    return wrapper


def load_config(file: Path | None = None, **flags: object) -> Config:
    """Defaults, then the TOML ``file``, then the flags; every field and the dataset checked
    before the command does anything."""
    from looplab.run.checks import checked

    return checked(make_config(file, **flags))
