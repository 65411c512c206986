"""pytest plugin (entry point ``pytest11``): the ``golden_mesh`` fixture for your own test suite.

    def test_head(golden_mesh):
        mesh = run_my_pipeline()
        golden_mesh.check(mesh, "head", chamfer=1e-4)

Golden files live in the ini option ``recon_golden_dir`` (default ``tests/golden``, relative to the
rootdir). A missing golden fails the test; ``pytest --force-regen`` (pytest-regressions' flag) or
``pytest --recon-regen`` writes them on purpose, then fails so the run is repeated without it.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from recon.golden import Comparison, Tolerance, check
from recon.errors import GoldenMismatch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("recon_golden_dir", "folder of recon golden meshes, relative to the rootdir", default="tests/golden")
    parser.getgroup("recon").addoption(
        "--recon-regen", action="store_true", default=False, help="rewrite recon golden meshes on purpose"
    )


def _as_mesh(mesh: Any) -> Any:
    from recon.structures import Mesh

    if isinstance(mesh, Mesh):
        return mesh
    if isinstance(mesh, (str, Path)):
        import trimesh

        mesh = trimesh.load(mesh, force="mesh", process=False)
    return Mesh.from_trimesh(mesh)


class GoldenMesh:
    """Compares meshes with golden files in one folder; see :mod:`recon.golden` for the numbers."""

    def __init__(self, directory: Path, regen: bool) -> None:
        self.directory = directory
        self.regen = regen

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.npz"

    def check(self, mesh: Any, name: str, metric: bool = True, **tolerance: Any) -> Comparison:
        """Compare ``mesh`` (a recon Mesh, a trimesh or a mesh file) with golden ``name``.

        Keyword arguments override :class:`recon.golden.Tolerance` fields (``chamfer=1e-4``).
        """
        known = {f.name for f in fields(Tolerance)}
        unknown = set(tolerance) - known
        if unknown:
            raise TypeError(f"unknown tolerance {sorted(unknown)}; use {sorted(known)}")
        tol = Tolerance(**tolerance)
        try:
            result = check(_as_mesh(mesh), self.path(name), tol, regen=self.regen, metric=metric)
        except GoldenMismatch as exc:
            pytest.fail(str(exc), pytrace=False)
        if self.regen:
            pytest.fail(f"golden {name!r} regenerated at {self.path(name)}; run again without --force-regen", pytrace=False)
        return result


@pytest.fixture
def golden_mesh(request: pytest.FixtureRequest) -> GoldenMesh:
    """Check meshes against golden files: ``golden_mesh.check(mesh, "name", chamfer=1e-4)``."""
    config = request.config
    regen = bool(config.getoption("recon_regen")) or bool(config.getoption("force_regen", default=False))
    return GoldenMesh(Path(config.rootpath) / config.getini("recon_golden_dir"), regen)
