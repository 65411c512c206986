"""The ``recon_golden`` pytest plugin (entry point ``pytest11``) as a user's test suite sees it."""

from __future__ import annotations

import numpy as np
import pytest

pytest_plugins = ["pytester"]

USER_TEST = """
import numpy as np
import trimesh

from recon.structures import Mesh

SHIFT = {shift!r}


def test_cube(golden_mesh):
    box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
    vertices = np.asarray(box.vertices).copy()
    vertices[0, 0] += SHIFT
    golden_mesh.check(Mesh(vertices, box.faces), "cube")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: its own rootdir (pytest.ini) and a test comparing a 10 cm cube."""
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_user=USER_TEST.format(shift=0.0))
    return pytester


def test_missing_regen_pass_and_mismatch(suite: pytest.Pytester) -> None:
    golden = suite.path / "tests" / "golden" / "cube.npz"

    first = suite.runpytest()
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(["*golden 'cube' not found at *cube.npz*--force-regen*"])
    assert not golden.exists()

    regen = suite.runpytest("--recon-regen")
    regen.assert_outcomes(failed=1)
    regen.stdout.fnmatch_lines(["*golden 'cube' regenerated at *cube.npz*without --recon-regen*"])
    assert golden.is_file()
    with np.load(golden) as data:
        assert data["vertices"].shape == (8, 3) and data["faces"].shape == (12, 3)

    suite.runpytest().assert_outcomes(passed=1)

    suite.makepyfile(test_user=USER_TEST.format(shift=0.002))
    changed = suite.runpytest()
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["*golden 'cube': MISMATCH (max vertex error 0.002 (2 mm) > 1e-05 (0.01 mm)*"])
    assert "Traceback" not in changed.stdout.str()


def test_force_regen_from_pytest_regressions(suite: pytest.Pytester) -> None:
    golden = suite.path / "tests" / "golden" / "cube.npz"
    result = suite.runpytest("--force-regen")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*golden 'cube' regenerated at *without --force-regen*"])
    assert golden.is_file()
    written = golden.read_bytes()

    suite.runpytest().assert_outcomes(passed=1)
    # a golden that still matches is left alone and the test passes, as pytest-regressions does
    suite.runpytest("--force-regen").assert_outcomes(passed=1)
    assert golden.read_bytes() == written

    suite.makepyfile(test_user=USER_TEST.format(shift=0.002))
    suite.runpytest("--force-regen").assert_outcomes(failed=1)
    suite.runpytest().assert_outcomes(passed=1)
    assert golden.read_bytes() != written


def test_regen_all_writes_and_passes(suite: pytest.Pytester) -> None:
    suite.runpytest("--regen-all").assert_outcomes(passed=1)
    assert (suite.path / "tests" / "golden" / "cube.npz").is_file()
    suite.runpytest().assert_outcomes(passed=1)


def test_golden_dir_ini_option_and_tolerances(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nrecon_golden_dir = refs/meshes\n")
    pytester.makepyfile(
        test_tol="""
        import numpy as np
        import pytest
        import trimesh

        from recon.structures import Mesh

        def cube(shift):
            box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
            vertices = np.asarray(box.vertices).copy()
            vertices[0, 0] += shift
            return Mesh(vertices, box.faces)

        def test_loose(golden_mesh):
            assert golden_mesh.path("cube").parent.as_posix().endswith("refs/meshes")
            result = golden_mesh.check(cube(0.002), "cube", vertex_atol=0.01, chamfer=0.01, hausdorff=0.01)
            assert result.ok and result.vertex_max_error == pytest.approx(0.002, rel=1e-3)

        def test_trimesh_input(golden_mesh):
            golden_mesh.check(trimesh.creation.box(extents=(0.1, 0.1, 0.1)), "cube")

        def test_unknown_tolerance(golden_mesh):
            with pytest.raises(TypeError, match="unknown tolerance \\\\['chamfr'\\\\]"):
                golden_mesh.check(cube(0.0), "cube", chamfr=1)
        """
    )
    pytester.makepyfile(
        conftest="""
        from recon.golden import save_golden
        from recon.structures import Mesh
        import trimesh

        def pytest_sessionstart(session):
            box = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
            save_golden(Mesh(box.vertices, box.faces), session.config.rootpath / "refs" / "meshes" / "cube.npz")
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)
