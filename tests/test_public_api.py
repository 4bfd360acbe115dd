"""The README's Python example runs, and every public name resolves."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import looplab


def readme_python_examples() -> list[str]:
    """The code blocks of the README's tour of the Python API."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    tour = readme.split("## A short tour of the Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", tour, flags=re.DOTALL)


def test_the_readme_python_examples_run_and_train(capsys: pytest.CaptureFixture[str]) -> None:
    one_call, kernel = readme_python_examples()
    names: dict[str, Any] = {}
    exec(one_call, names)
    assert names["history"].last["val_accuracy"] > 0.9 and len(names["history"]) == 50
    names = {}
    exec(kernel, names)
    assert names["history"].last["train_accuracy"] > 0.9 and len(names["history"]) == 30
    printed = capsys.readouterr().out.splitlines()
    assert float(printed[-1]) == names["history"].last["train_accuracy"]


def import_every_module() -> list[str]:
    """Import every module of the package, as a program using all of looplab would."""
    names = [m.name for m in pkgutil.walk_packages(looplab.__path__, "looplab.")]
    for name in names:
        importlib.import_module(name)
    return names


def test_every_public_name_is_the_object_its_module_defines_even_after_all_imports() -> None:
    """Once ``looplab.X`` is imported, ``looplab.X`` is that module unless nothing exports X:
    ``from looplab import train`` once returned the ``looplab.train`` package this way."""
    modules = import_every_module()
    assert len(modules) > 50 and "looplab.loop.kernel" in modules and "looplab.cli.train" in modules
    for name in looplab.__all__:
        exported = getattr(looplab, name)
        defined = getattr(importlib.import_module(looplab._EXPORTS[name]), name)
        assert exported is defined, name
        assert not isinstance(exported, ModuleType), name
        assert exported.__module__.startswith(looplab._EXPORTS[name]), name


def test_a_public_name_that_is_also_a_submodule_refuses_to_import(tmp_path: Path) -> None:
    """The package checks at import that no export is shadowed by a submodule of its name."""
    package = tmp_path / "looplab"
    package.mkdir()
    shutil.copy(Path(looplab.__file__), package / "__init__.py")
    (package / "train.py").write_text("")  # `train` is exported by looplab.pipeline
    code = "import looplab"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 1
    assert "ImportError: looplab exports ['train'], also names of its submodules" in out.stderr
    (package / "train.py").unlink()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)  # and without it


def test_the_package_says_it_is_typed() -> None:
    assert resources.files("looplab").joinpath("py.typed").is_file()


def test_cli_help_does_not_import_torch() -> None:
    code = "import sys, looplab.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_all_lists_exactly_the_exports() -> None:
    assert looplab.__all__ == list(looplab._EXPORTS)


def test_looplab_data_exports_its_names_lazily_and_exactly() -> None:
    import looplab.data as data

    assert data.__all__ == list(data._EXPORTS)
    for name in data.__all__:
        defined = getattr(importlib.import_module(data._EXPORTS[name]), name)
        assert getattr(data, name) is defined, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        data.nope  # noqa: B018
