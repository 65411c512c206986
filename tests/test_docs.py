"""The README documents every hook spec with its exact signature (datasette's test_docs idea)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from recon import hookspecs

README = Path(__file__).resolve().parents[1] / "README.md"


def _hook_specs() -> list[str]:
    return [name for name, fn in vars(hookspecs).items() if name.startswith("recon_") and hasattr(fn, "recon_spec")]


def test_there_are_hook_specs() -> None:
    assert len(_hook_specs()) >= 5


@pytest.mark.parametrize("name", _hook_specs())
def test_hook_is_documented_with_its_signature(name: str) -> None:
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    heading = f"#### `{name}({params})`"
    assert heading in README.read_text(), f"README.md lacks the heading {heading!r} in its hook reference"


def test_readme_opens_with_the_two_setup_commands() -> None:
    text = README.read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (README.parent / ".ci" / "run").read_text()
