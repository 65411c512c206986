"""The architecture's rule, checked on the source: a plugin uses the core (``recon``) and, at
most, another plugin's public API, what that plugin's ``__init__`` exports; what two plugins both
need lives in the core. An import of another plugin's submodule fails here with its place."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def foreign_submodule_imports(package: Path) -> list[str]:
    """``file:line module`` for each import in ``package`` of another plugin's submodule."""
    own = package.name
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                top, _, rest = module.partition(".")
                if top.startswith("recon_") and top != own and rest:
                    found.append(f"{path.relative_to(package.parent)}:{node.lineno} {module}")
    return found


def test_plugins_import_other_plugins_only_through_their_public_api() -> None:
    packages = [p for p in sorted(PLUGINS.iterdir()) if (p / "__init__.py").is_file() and p.name.startswith("recon_")]
    assert len(packages) >= 9
    offending = [line for package in packages for line in foreign_submodule_imports(package)]
    assert not offending, "import the other plugin's __init__ names, or move the shared code into recon/: " + "; ".join(offending)


def test_the_check_finds_a_submodule_import(tmp_path: Path) -> None:
    package = tmp_path / "recon_mine"
    package.mkdir()
    (package / "__init__.py").write_text("from recon_face import find_faces\n")
    (package / "inner.py").write_text("def f():\n    from recon_pointnet.train import train\n    import recon_face.method\n")
    assert foreign_submodule_imports(package) == ["recon_mine/inner.py:2 recon_pointnet.train", "recon_mine/inner.py:3 recon_face.method"]
