"""Every module of ``looplab.cli`` that defines commands is registered by ``cli/__init__.py``.

A command module adds its commands to the app when it is imported; one missing from the import
list of ``cli/__init__.py`` would silently have no command. Checked in a fresh interpreter: in
this one, other tests may already have imported the module, which registers it anyway.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import looplab.cli

CLI_DIR = Path(looplab.cli.__file__).parent


def defines_commands(path: Path) -> bool:
    """Whether a module decorates a function with ``@app.command(...)``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if (
                    isinstance(call, ast.Attribute)
                    and call.attr == "command"
                    and isinstance(call.value, ast.Name)
                    and call.value.id == "app"
                ):
                    return True
    return False


def registered_modules() -> dict[str, list[str]]:
    """Module -> names of the commands ``import looplab.cli`` registers, in a new process."""
    code = """
import json, looplab.cli
found = {}
for command in looplab.cli.app.registered_commands:
    name = command.name or command.callback.__name__.replace("_", "-")
    found.setdefault(command.callback.__module__, []).append(name)
print(json.dumps(found))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, list[str]] = json.loads(out.stdout)
    return found


def test_every_module_with_commands_is_registered() -> None:
    with_commands = {
        f"looplab.cli.{path.stem}" for path in CLI_DIR.glob("*.py") if defines_commands(path)
    }
    registered = registered_modules()
    missing = sorted(with_commands - set(registered))
    assert not missing, f"add {missing} to the import list of cli/__init__.py"
    assert set(registered) == with_commands
    assert {"looplab.cli.train", "looplab.cli.runs", "looplab.cli.lr_find"} <= with_commands
    assert registered["looplab.cli.lr_find"] == ["lr-find"]
    assert not defines_commands(CLI_DIR / "options.py")  # helpers only: not a command module


def test_the_scan_sees_a_command_however_its_decorator_is_written(tmp_path: Path) -> None:
    module = tmp_path / "extra.py"
    module.write_text("from looplab.cli import app\n\n@app.command('x')\ndef x() -> None: ...\n")
    assert defines_commands(module)
    module.write_text("from looplab.cli import app\n\n@app.command\ndef x() -> None: ...\n")
    assert defines_commands(module)
    module.write_text("def command() -> None: ...\n")
    assert not defines_commands(module)
