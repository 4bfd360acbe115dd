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

import typer

from looplab.config import HELP, Config, make_config

_METAVARS = {"int": "INT", "float": "FLOAT", "list[int]": "W,W,...", "list[str]": "A,B,..."}


def _option(name: str, kind: str) -> tuple[object, object]:
    flag = "--" + name.replace("_", "-")
    if kind == "bool":
        return bool | None, typer.Option(None, f"{flag}/--no-{flag[2:]}", help=HELP.get(name, ""))
    metavar = next((v for k, v in _METAVARS.items() if kind.startswith(k)), "TEXT")
    if name == "batch_size":
        metavar = "INT|full"
    return str | None, typer.Option(None, flag, help=HELP.get(name, ""), metavar=metavar)


def config_options(func: Callable[..., object]) -> Callable[..., object]:
    """Add one flag per config field (plus ``--config FILE``) to a typer command.

    The command receives ``config_file`` and ``overrides`` (the flags that were given).
    """
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
        annotation, default = _option(f.name, str(f.type))
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
    from looplab.run.build import checked

    return checked(make_config(file, **flags))
