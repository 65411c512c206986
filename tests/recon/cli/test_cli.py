"""The ``recon`` command line through click's CliRunner (a fresh group per test), plus a few
subprocess checks (``python cli.py``, no heavy imports for ``--help`` and ``plugins``)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import recon.plugins
from recon.testing.plugins import FakeDistribution
from recon import __version__, hookimpl
from recon.cli import make_cli
from recon.errors import ExitCode
from recon.plugins import PluginHost
from recon.registry import Method, Writer
from recon.structures import Inputs, Mesh, Reconstruction
from recon.testing.cli import RECON, clean_env, run_recon

REPO = Path(__file__).resolve().parents[3]
HEAVY = ("torch", "pytorch3d", "mediapipe")
SUBCOMMANDS = (["reconstruct"], ["plugins"], ["golden"], ["golden", "check"], ["golden", "update"])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("RECON_LOAD_PLUGINS", raising=False)


def run(args: list[str], **kwargs: Any) -> Result:
    """Invoke a fresh ``recon`` group; stdout and stderr are kept apart."""
    return CliRunner().invoke(make_cli(), args, prog_name="recon", **kwargs)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# -- in-process plugins ------------------------------------------------------------------------


@pytest.fixture
def add_plugin(monkeypatch: pytest.MonkeyPatch):
    """``add_plugin(name, plugin)`` registers an in-process plugin on every host the CLI creates."""
    extra: list[tuple[str, object]] = []
    original = PluginHost.load_entrypoints

    def load_entrypoints(self: PluginHost) -> PluginHost:
        original(self)
        for name, plugin in extra:
            self.register(plugin, name=name, version="9.9.9")
        return self

    monkeypatch.setattr(PluginHost, "load_entrypoints", load_entrypoints)
    return lambda name, plugin: extra.append((name, plugin))


def _points_only(inputs: Inputs) -> bool:
    return bool(inputs.point_clouds) and not inputs.frames


def hull_run(inputs: Inputs, options: dict[str, Any], stages: Any) -> Reconstruction:
    import trimesh

    with stages.stage("hull"):
        points = np.concatenate([pc.points for pc in inputs.point_clouds])
        hull = trimesh.PointCloud(points).convex_hull
    mesh = Mesh(np.asarray(hull.vertices), np.asarray(hull.faces), name="hull")
    views = [{"input": pc.source, "points": len(pc)} for pc in inputs.point_clouds]
    # numpy scalars and arrays in metadata: report.json and --json must both serialise them
    metadata_ = {"volume": np.float32(hull.volume), "n": np.int64(len(points)), "center": np.zeros(3), "options": dict(options)}
    return Reconstruction(method="test-hull", meshes=[mesh], views=views, metadata=metadata_)


class HullPlugin:
    @hookimpl
    def recon_register_methods(self, register: Any) -> None:
        register(Method("test-hull", "convex hull of the points (test)", _points_only, hull_run))


class RaisingMethodPlugin:
    @hookimpl
    def recon_register_methods(self, register: Any) -> None:
        def explode(inputs: Inputs, options: dict[str, Any], stages: Any) -> Reconstruction:
            with stages.stage("explode"):
                raise RuntimeError("kaboom in method")

        register(Method("explode", "always raises (test)", lambda inputs: False, explode))


def _write_then_fail(reconstruction: Reconstruction, path: Path) -> list[Path]:
    path.write_bytes(b"half a file")
    raise RuntimeError("disk on fire")


class FailingWriterPlugin:
    @hookimpl
    def recon_register_writers(self, register: Any) -> None:
        register(Writer("boom", "mesh.boom", _write_then_fail))


def sphere_points(path: Path, n: int = 200, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    np.savetxt(path, points, fmt="%.6f")
    return path


@pytest.fixture
def xyz(tmp_path: Path) -> Path:
    return sphere_points(tmp_path / "pts.xyz")


def _no_leftovers(parent: Path, out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in parent.iterdir() if p.name.endswith(".partial")] == []


# -- help and version ---------------------------------------------------------------------------


def test_root_help_has_examples_and_lists_commands() -> None:
    result = run(["--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    for name in ("reconstruct", "plugins", "golden"):
        assert name in result.stdout
    assert "Exit codes" in result.stdout


@pytest.mark.parametrize("args", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_help_has_an_example(args: list[str]) -> None:
    result = run([*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout


def test_every_listed_command_has_an_example() -> None:
    """Every command --help lists (built-in or added by an installed plugin) shows an example."""
    cli = make_cli()
    result = CliRunner().invoke(cli, ["--help"], prog_name="recon")
    assert result.exit_code == 0
    for name in cli.commands:
        sub = run([name, "--help"])
        assert sub.exit_code == 0 and "Example" in sub.stdout, name


def test_version() -> None:
    result = run(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"recon, version {__version__}"


# -- plugins ------------------------------------------------------------------------------------


def test_plugins_json_lists_builtins() -> None:
    result = run(["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}  # stdout is JSON only
    for name in ("recon_io", "recon_visualhull"):
        row = rows[name]
        assert row["source"] == "builtin"
        assert row["version"] == metadata.version("recon")
        assert row["error"] is None
        assert set(row) == {"name", "version", "source", "hooks", "methods", "readers", "writers", "commands", "status", "error"}
    assert rows["recon_visualhull"]["methods"] == ["visual-hull"]
    assert rows["recon_visualhull"]["hooks"] == ["recon_register_methods"]
    assert {"image", "points", "mesh", "video", "scene"} <= set(rows["recon_io"]["readers"])
    assert {"glb", "obj", "ply"} <= set(rows["recon_io"]["writers"])
    assert rows["recon_io"]["hooks"] == ["recon_register_readers", "recon_register_writers"]
    assert rows["recon_io"]["commands"] == [] and rows["recon_io"]["methods"] == []


def test_plugins_text_listing() -> None:
    result = run(["plugins"])
    assert result.exit_code == 0
    assert "recon_visualhull" in result.stdout and "methods: visual-hull" in result.stdout


class CommandPlugin:
    @hookimpl
    def recon_register_commands(self, cli: Any) -> None:
        import click

        @cli.command("hello")
        @click.argument("who")
        def hello(who: str) -> None:
            """Say hello.

            \b
            Example:
              recon hello world
            """
            click.echo(f"hello {who}")


class RaisingCommandPlugin:
    @hookimpl
    def recon_register_commands(self, cli: Any) -> None:
        raise ValueError("no commands today")


def test_plugin_command_runs_and_is_attributed(add_plugin) -> None:
    add_plugin("greeter", CommandPlugin())
    add_plugin("grumpy", RaisingCommandPlugin())
    result = run(["hello", "world"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello world\n"
    assert "plugin 'grumpy' failed: recon_register_commands raised ValueError: no commands today" in result.stderr
    result = run(["plugins", "--json"])
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["greeter"]["commands"] == ["hello"] and rows["greeter"]["source"] == "inprocess"
    assert rows["greeter"]["version"] == "9.9.9" and rows["greeter"]["error"] is None
    assert "no commands today" in rows["grumpy"]["error"]
    assert all(rows[name]["commands"] == [] for name in ("recon_io", "recon_visualhull"))
    help_result = run(["--help"])
    assert "hello" in help_result.stdout


@pytest.fixture
def broken_dist(monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.distributions
    fake = FakeDistribution("fake-broken", "6.6.6", {"broken": "does_not_exist_pkg"})
    monkeypatch.setattr(recon.plugins.metadata, "distributions", lambda **kw: [*real(**kw), fake])


@pytest.mark.usefixtures("broken_dist")
def test_broken_entry_point_is_listed_with_its_error() -> None:
    result = run(["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["broken"]["source"] == "entrypoint"
    assert rows["broken"]["version"] == "6.6.6"
    assert "does_not_exist_pkg" in rows["broken"]["error"]
    assert rows["recon_io"]["error"] is None
    assert error_lines(result) == [
        "recon: warning: plugin 'broken' failed: ModuleNotFoundError: No module named 'does_not_exist_pkg'"
    ]


@pytest.mark.usefixtures("broken_dist")
def test_broken_entry_point_help_still_works() -> None:
    result = run(["--help"])
    assert result.exit_code == 0
    assert "reconstruct" in result.stdout


@pytest.mark.usefixtures("broken_dist")
@pytest.mark.parametrize("args", [["--strict-plugins", "plugins"], ["--strict-plugins", "plugins", "--json"]])
def test_strict_plugins_exit_4_one_line(args: list[str]) -> None:
    result = run(args)
    assert result.exit_code == ExitCode.PLUGIN_ERROR
    assert result.stdout == ""
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("recon: error: plugin 'broken' failed") and "does_not_exist_pkg" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("broken_dist")
@pytest.mark.parametrize("args", [["plugins"], ["--help"], ["reconstruct", "x.xyz", "-o", "out"]])
def test_strict_plugins_from_environment(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.setenv("RECON_STRICT_PLUGINS", "1")
    result = run(args)
    assert result.exit_code == ExitCode.PLUGIN_ERROR, result.output
    assert len(error_lines(result)) == 1, result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # exited cleanly, nothing escaped


# -- reconstruct: errors --------------------------------------------------------------------------


def test_missing_input_exit_3_one_line(tmp_path: Path) -> None:
    result = run(["reconstruct", str(tmp_path / "nope.xyz"), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("recon: error: ") and "nope.xyz" in lines[0]
    assert "Traceback" not in result.output
    _no_leftovers(tmp_path, tmp_path / "out")


def test_unsupported_input_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    result = run(["reconstruct", str(bad), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT
    (line,) = error_lines(result)
    assert "unsupported input" in line and ".xyz" in line


def test_unknown_method_exit_2_lists_methods(xyz: Path, tmp_path: Path) -> None:
    result = run(["reconstruct", str(xyz), "-o", str(tmp_path / "out"), "--method", "nope", "-q"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert line.startswith("recon: error: unknown method 'nope'") and "visual-hull" in line
    _no_leftovers(tmp_path, tmp_path / "out")


def test_single_plain_image_no_method_accepts_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    # the face method takes any photo (and reports "no face" here); without it, none accepts
    monkeypatch.setenv("RECON_LOAD_PLUGINS", "recon_io,recon_visualhull")

    image = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(image)
    result = run(["reconstruct", str(image), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    (line,) = error_lines(result)
    assert line.startswith("recon: error: no method can reconstruct 1 frame")
    assert "available methods: visual-hull" in line and "--method" in line
    _no_leftovers(tmp_path, tmp_path / "out")


def test_single_plain_image_goes_to_face_no_face_exit_3(tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(image)
    result = run(["reconstruct", str(image), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    (line,) = error_lines(result)
    assert line == "recon: error: no face found in the photo (photo.png); give photos that show a face"
    _no_leftovers(tmp_path, tmp_path / "out")


@pytest.mark.parametrize("pair", ["novalue", "=3"])
def test_bad_option_pair_exit_2(xyz: Path, tmp_path: Path, pair: str) -> None:
    result = run(["reconstruct", str(xyz), "-o", str(tmp_path / "out"), "-O", pair, "-q"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "is not key=value" in result.stderr and "Traceback" not in result.output


def test_unknown_format_exit_2(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("hull", HullPlugin())
    result = run(["reconstruct", str(xyz), "-o", str(tmp_path / "out"), "--format", "glb,fbx", "-q"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert "fbx" in line and "glb" in line
    _no_leftovers(tmp_path, tmp_path / "out")


def test_internal_error_exit_1_mentions_debug(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("exploder", RaisingMethodPlugin())
    result = run(["reconstruct", str(xyz), "-o", str(tmp_path / "out"), "--method", "explode", "-q"])
    assert result.exit_code == ExitCode.INTERNAL_ERROR
    (line,) = error_lines(result)
    assert line.startswith("recon: error: internal error in method 'explode' of plugin 'exploder': RuntimeError: kaboom in method")
    assert "--debug" in line
    assert "Traceback" not in result.output
    _no_leftovers(tmp_path, tmp_path / "out")


def test_debug_lets_the_exception_propagate(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("exploder", RaisingMethodPlugin())
    with pytest.raises(RuntimeError, match="kaboom in method"):
        run(["--debug", "reconstruct", str(xyz), "-o", str(tmp_path / "out"), "--method", "explode", "-q"], catch_exceptions=False)
    _no_leftovers(tmp_path, tmp_path / "out")


def test_writer_failing_midway_leaves_nothing(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("hull", HullPlugin())
    add_plugin("boomwriter", FailingWriterPlugin())
    result = run(["reconstruct", str(xyz), "-o", str(tmp_path / "out"), "--format", "glb,obj,boom", "-q"])
    assert result.exit_code == ExitCode.INTERNAL_ERROR, result.output
    assert "disk on fire" in result.stderr
    _no_leftovers(tmp_path, tmp_path / "out")


def test_existing_output_needs_overwrite(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("hull", HullPlugin())
    out = tmp_path / "out"
    assert run(["reconstruct", str(xyz), "-o", str(out), "-q", "--format", "glb,ply"]).exit_code == 0
    result = run(["reconstruct", str(xyz), "-o", str(out), "-q"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert "--overwrite" in line
    assert sorted(p.name for p in out.iterdir()) == ["mesh.glb", "mesh.ply", "report.json"]

    result = run(["reconstruct", str(xyz), "-o", str(out), "-q", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["mesh.glb", "mesh.obj", "report.json"]


def test_overwrite_never_replaces_a_folder_recon_did_not_write(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("hull", HullPlugin())
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run(["reconstruct", str(xyz), "-o", str(out), "-q", "--overwrite"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    (line,) = error_lines(result)
    assert "keep.txt" in line and "recon did not write" in line
    assert (out / "keep.txt").read_text() == "mine"
    # a recon folder with a file the user added is not recon's alone any more
    out2 = tmp_path / "out2"
    assert run(["reconstruct", str(xyz), "-o", str(out2), "-q"]).exit_code == 0
    (out2 / "notes.txt").write_text("mine")
    result = run(["reconstruct", str(xyz), "-o", str(out2), "-q", "--overwrite"])
    assert result.exit_code == ExitCode.USAGE_ERROR and "notes.txt" in result.stderr
    assert (out2 / "notes.txt").read_text() == "mine"


def test_failed_overwrite_keeps_the_old_output(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("hull", HullPlugin())
    add_plugin("boomwriter", FailingWriterPlugin())
    out = tmp_path / "out"
    assert run(["reconstruct", str(xyz), "-o", str(out), "-q"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run(["reconstruct", str(xyz), "-o", str(out), "-q", "--overwrite", "--format", "glb,boom"])
    assert result.exit_code == ExitCode.INTERNAL_ERROR
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "pts.xyz"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# -- reconstruct: end to end ------------------------------------------------------------------------


def test_end_to_end_point_cloud(add_plugin, xyz: Path, tmp_path: Path) -> None:
    import trimesh

    add_plugin("hull", HullPlugin())
    out = tmp_path / "out"
    result = run(["reconstruct", str(xyz), "-o", str(out), "--seed", "7", "-O", "foo=3"])
    assert result.exit_code == 0, result.output
    assert "test-hull: 200 vertices, 396 faces" in result.stdout
    assert {"mesh.glb", "mesh.obj", "report.json"} <= {p.name for p in out.iterdir()}
    report = json.loads((out / "report.json").read_text())
    assert report["method"] == "test-hull"
    assert report["inputs"] == [str(xyz)]
    assert report["views"] == [{"input": str(xyz), "points": 200}]
    assert report["mesh"] == {"vertices": 200, "faces": 396}
    assert report["timings_s"]["total"] > 0 and "hull" in report["timings_s"]
    assert report["plugins"]["hull"] == "9.9.9" and "recon_io" in report["plugins"]
    assert report["seed"] == 7
    assert report["metadata"]["options"]["foo"] == 3 and report["metadata"]["options"]["seed"] == 7
    assert report["metadata"]["n"] == 200
    assert sorted(report["outputs"]) == sorted(p.name for p in out.iterdir())
    mesh = trimesh.load(out / "mesh.glb", force="mesh")
    assert mesh.is_watertight and len(mesh.faces) == 396
    assert len(trimesh.load(out / "mesh.obj", force="mesh").faces) == 396
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_end_to_end_json_report_on_stdout(add_plugin, xyz: Path, tmp_path: Path) -> None:
    add_plugin("hull", HullPlugin())
    out = tmp_path / "out"
    result = run(["reconstruct", str(xyz), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # stdout holds the report only (progress goes to stderr)
    assert printed == json.loads((out / "report.json").read_text())
    assert printed["mesh"] == {"vertices": 200, "faces": 396}


# -- subprocesses ---------------------------------------------------------------------------------


def test_cli_py_from_repo_root() -> None:
    proc = subprocess.run([sys.executable, "cli.py", "--help"], cwd=REPO, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "reconstruct" in proc.stdout and "Example" in proc.stdout


def test_console_script_help() -> None:
    if not RECON.exists():
        pytest.skip("no recon console script beside this interpreter")
    proc = run_recon("--help", env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: recon" in proc.stdout


_PROBE = """
import json, sys
from recon.cli import make_cli
try:
    make_cli().main({args!r}, prog_name="recon", standalone_mode=False)
except SystemExit:
    pass
print("HEAVY=" + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins", "--json"], ["plugins"], ["reconstruct", "--help"]], ids=" ".join)
def test_no_heavy_imports(args: list[str]) -> None:
    code = _PROBE.format(args=args, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last == "HEAVY=[]", last
