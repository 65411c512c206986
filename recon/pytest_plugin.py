"""pytest plugin (entry point ``pytest11``): the ``golden_mesh`` fixture for your own test suite.

    def test_head(golden_mesh):
        mesh = run_my_pipeline()
        golden_mesh.check(mesh, "head", chamfer=1e-4)

Golden files live in the ini option ``recon_golden_dir`` (default ``tests/golden``, relative to the
rootdir). A missing golden fails the test. ``pytest --force-regen`` (pytest-regressions' flag) or
``pytest --recon-regen`` writes the goldens that are missing or differ, on purpose, and fails those
tests so the run is repeated without the flag; goldens that still match are left untouched.
pytest-regressions' ``--regen-all`` writes them the same way but lets the tests pass.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from recon.errors import ReconError
from recon.golden import Comparison, Tolerance, check


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("recon_golden_dir", "folder of recon golden meshes, relative to the rootdir", default="tests/golden")
    parser.getgroup("recon").addoption(
        "--recon-regen",
        action="store_true",
        default=False,
        help="write recon golden meshes that are missing or differ, on purpose (those tests fail)",
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
    """Compares meshes with golden files in one folder; see :mod:`recon.golden` for the numbers.

    :param regen: write missing or mismatching goldens and fail those tests.
    :param regen_pass: with ``regen``, let the tests pass (pytest-regressions' ``--regen-all``).
    :param flag: the command-line flag that asked for ``regen``, for the failure message.
    """

    def __init__(self, directory: Path, regen: bool, regen_pass: bool = False, flag: str = "--force-regen") -> None:
        self.directory = Path(directory)
        self.regen = regen
        self.regen_pass = regen_pass
        self.flag = flag

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
        path = self.path(name)
        try:
            result = check(_as_mesh(mesh), path, tol, regen=self.regen, metric=metric)
        except ReconError as exc:
            pytest.fail(str(exc), pytrace=False)
        if result.regenerated and not self.regen_pass:
            pytest.fail(
                f"golden {name!r} regenerated at {path}; check the change and run again without {self.flag}",
                pytrace=False,
            )
        return result


@pytest.fixture
def golden_mesh(request: pytest.FixtureRequest) -> GoldenMesh:
    """Check meshes against golden files: ``golden_mesh.check(mesh, "name", chamfer=1e-4)``."""
    config = request.config
    recon_regen = bool(config.getoption("recon_regen"))
    force_regen = bool(config.getoption("force_regen", default=False))
    regen_all = bool(config.getoption("regen_all", default=False))
    flag = "--recon-regen" if recon_regen else "--regen-all" if regen_all and not force_regen else "--force-regen"
    directory = Path(config.rootpath) / config.getini("recon_golden_dir")
    return GoldenMesh(
        directory,
        regen=recon_regen or force_regen or regen_all,
        regen_pass=regen_all and not (recon_regen or force_regen),
        flag=flag,
    )
