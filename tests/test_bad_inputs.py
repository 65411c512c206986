"""Bad input and hostile surroundings through the real ``recon`` command, one subprocess per case.

Every case asserts the same contract: the documented exit code, exactly one ``recon: error:``
line on stderr naming the file (warnings, when a case expects one, name the plugin), no
traceback, no new or changed file anywhere in the sandbox outside OUT, and OUT either complete
(its report lists every file in it) or absent, with no ``.partial`` folder left beside it.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from recon.testing.cli import RECON, clean_env, run_recon

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not RECON.exists(), reason="no recon console script beside this interpreter")


# -- the sandbox ---------------------------------------------------------------------------------


def _sphere(path: Path, n: int = 400, duplicates: int = 0) -> Path:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(n, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    if duplicates:
        points = np.concatenate([points, points[:duplicates]])
    np.savetxt(path, points, fmt="%.6f")
    return path


def _image(path: Path, value: int = 128) -> Path:
    from PIL import Image

    Image.fromarray(np.full((24, 32, 3), value, np.uint8)).save(path)
    return path


def _fake_plugin(root: Path, dist: str, modules: dict[str, str]) -> Path:
    """A folder that, on PYTHONPATH, looks like an installed package with ``recon.plugins`` entry points."""
    root.mkdir()
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[recon.plugins]\n" + "".join(f"{m} = {m}\n" for m in modules))
    for name, code in modules.items():
        (root / f"{name}.py").write_text(code)
    return root


EXITING_PLUGIN = "import sys\nsys.exit(0)\n"

BAD_PLUGIN = '''
import numpy as np
from recon import hookimpl
from recon.registry import Method
from recon.structures import Mesh, Reconstruction


def _raise(inputs):
    raise RuntimeError("accepts exploded")


def _hull(inputs, options, stages):
    import trimesh
    points = np.concatenate([pc.points for pc in inputs.point_clouds])
    hull = trimesh.PointCloud(points).convex_hull
    return Reconstruction(method="quick-hull", meshes=[Mesh(np.asarray(hull.vertices), np.asarray(hull.faces))])


def _crash(inputs, options, stages):
    raise ValueError("run exploded")


@hookimpl
def recon_register_methods(register):
    register(Method("bad-accepts", "accepts() raises", _raise, _hull, priority=100))
    register(Method("quick-hull", "convex hull", lambda inputs: bool(inputs.point_clouds), _hull, priority=50))
    register(Method("bad-run", "run() raises", lambda inputs: False, _crash))


@hookimpl
def recon_annotate(reconstruction):
    return {"handle": object()}
'''


def _broken_scenes(box: Path) -> None:
    """Copies of the demo scene whose cameras.json is wrong in one way each."""
    import shutil

    def broken(name: str, change: Callable[[dict], None]) -> None:
        folder = box / name
        shutil.copytree(REPO / "assets" / "demo_scene", folder)
        doc = json.loads((folder / "cameras.json").read_text())
        for frame in doc["frames"]:
            change(frame)
        (folder / "cameras.json").write_text(json.dumps(doc))  # json writes NaN as the bare literal NaN

    broken("scene_r_not_rotation", lambda f: f.update(R=(2 * np.eye(3)).tolist()))
    broken("scene_t_negated", lambda f: f.update(t=(-np.asarray(f["t"])).tolist()))
    broken("scene_nan_k", lambda f: f["K"][0].__setitem__(0, float("nan")))


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A folder with inputs and files of the user's that no run may touch."""
    import trimesh

    from recon.golden import save_golden
    from recon.structures import Mesh

    box = tmp_path / "box"
    box.mkdir()
    (box / "photos").mkdir()
    _image(box / "photos" / "a.png")
    _image(box / "photos" / "b.png", 90)
    _image(box / "a.png")
    _sphere(box / "pts.xyz")
    _sphere(box / "dup.xyz", n=300, duplicates=200)
    (box / "other.txt").write_text("the user's")
    (box / "afile").write_text("a file, not a folder")
    (box / "work").mkdir()
    (box / "work" / "mine.txt").write_text("the user's")
    (box / "foreign").mkdir()
    (box / "foreign" / "keep.txt").write_text("the user's")
    (box / "link").symlink_to(box / "foreign", target_is_directory=True)
    (box / "home").mkdir()
    (box / "home" / ".profile").write_text("the user's")
    sphere = trimesh.creation.icosphere(subdivisions=1)
    sphere.export(box / "mesh.obj")
    save_golden(Mesh(np.asarray(sphere.vertices), np.asarray(sphere.faces)), box / "golden.npz")
    (box / "empty.npz").write_bytes(b"")
    (box / "corrupt.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 99\n\x00\xff garbage")
    _broken_scenes(box)
    _fake_plugin(box / "plug_exit", "recon-exiting", {"exiting_plugin": EXITING_PLUGIN})
    _fake_plugin(box / "plug_bad", "recon-bad", {"bad_plugin": BAD_PLUGIN})
    return box


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """{relative path: (mode, size, mtime)} of everything under ``root`` (links not followed)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            found[str(path.relative_to(root))] = (st.st_mode, st.st_size if not stat.S_ISDIR(st.st_mode) else 0, st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0)
    return found


def recon(args: list[str], cwd: Path, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    return run_recon(*args, cwd=cwd, env=clean_env(**env), timeout=timeout)


def check_contract(
    proc: subprocess.CompletedProcess[str], code: int, names: str | None, before: dict, after: dict, out: Path | None, root: Path,
    warns: str | None = None,
) -> None:
    """The shared assertions of every case (see the module docstring)."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("recon: error:")]
    others = [line for line in lines if not line.startswith(("recon: error:", "recon: warning:"))]
    assert others == [], others
    if code == 0:
        assert errors == []
    else:
        assert len(errors) == 1, lines
        assert names is None or names in errors[0], (names, errors[0])
    if warns is not None:
        assert any(warns in line for line in lines if line.startswith("recon: warning:")), lines
    inside = str(out.relative_to(root)) if out is not None and root in out.parents else None

    def outside(snap: dict) -> dict:
        return {k: v for k, v in snap.items() if inside is None or not (k == inside or k.startswith(inside + os.sep))}

    assert outside(after) == outside(before), sorted(set(outside(after).items()) ^ set(outside(before).items()))
    assert not [k for k in after if k.endswith(".partial")]
    if out is not None and out.is_dir() and not out.is_symlink() and code == 0:
        report = json.loads((out / "report.json").read_text())
        assert sorted(report["outputs"]) == sorted(p.name for p in out.iterdir())


# -- the table -------------------------------------------------------------------------------------


@dataclass
class Case:
    """One bad-input case: run ``args`` in ``cwd`` (both relative to the sandbox)."""

    id: str
    args: list[str]
    code: int
    names: str | None
    cwd: str = "."
    out: str | None = "out"  # where OUT would be, for the complete-or-absent check
    env: dict[str, str] = field(default_factory=dict)
    warns: str | None = None
    then: Callable[[Path], None] | None = None  # extra assertions on the sandbox


def _no_plugin_annotation(box: Path) -> None:
    report = json.loads((box / "out" / "report.json").read_text())
    assert report["method"] == "quick-hull" and "bad_plugin" not in report["annotations"]


def _dedup_note(box: Path) -> None:
    report = json.loads((box / "out" / "report.json").read_text())
    assert any("200 duplicate points removed" in note for note in report["notes"])
    assert stat.S_IMODE((box / "out").stat().st_mode) == 0o775  # the umask below, not owner-only


QUICK_MESH = ["-O", "iterations=20", "-O", "mise_start=16", "-O", "mise_steps=1", "-O", "k_jet=0", "-O", "metric_samples=1000"]

CASES = [
    # 2. data loss: --overwrite never replaces what recon did not write
    Case("dot-overwrite", ["reconstruct", "../a.png", "-o", ".", "--overwrite", "-q"], 2, "current folder", cwd="work", out=None),
    Case("empty-o-overwrite", ["reconstruct", "../a.png", "-o", "", "--overwrite", "-q"], 2, "current folder", cwd="work", out=None),
    Case("dotdot-overwrite", ["reconstruct", "../a.png", "-o", "..", "--overwrite", "-q"], 2, "-o ..", cwd="work", out=None),
    Case("input-folder-as-out", ["reconstruct", "photos", "-o", "photos", "--overwrite", "-q"], 2, "holds the input photos", out=None),
    Case("input-ancestor-as-out", ["reconstruct", "photos/a.png", "-o", "photos", "--overwrite", "-q"], 2, "holds the input", out=None),
    Case("symlink-out", ["reconstruct", "pts.xyz", "-o", "link", "--overwrite", "-q"], 2, "-o link", out=None),
    Case("foreign-folder-overwrite", ["reconstruct", "pts.xyz", "-o", "foreign", "--overwrite", "-q"], 2, "keep.txt", out=None),
    Case("foreign-folder", ["reconstruct", "pts.xyz", "-o", "foreign", "-q"], 2, "foreign", out=None),
    Case("home-out", ["reconstruct", "pts.xyz", "-o", "home", "--overwrite", "-q"], 2, "home folder", out=None, env={"HOME": "{box}/home"}),
    # 5. OUT that cannot be written: found before any work, exit 2, never "internal error"
    Case("out-is-a-file", ["reconstruct", "pts.xyz", "-o", "afile", "-q"], 2, "afile", out=None),
    Case("out-under-a-file", ["reconstruct", "pts.xyz", "-o", "afile/out", "-q"], 2, "afile/out", out=None),
    Case("out-under-proc", ["reconstruct", "pts.xyz", "-o", "/proc/recon-out", "-q"], 2, "/proc/recon-out", out=None),
    # 6. meaningless requests
    Case("format-empty", ["reconstruct", "pts.xyz", "-o", "out", "--format", "", "-q"], 2, "--format"),
    Case("unknown-option", ["reconstruct", "pts.xyz", "-o", "out", "-O", "unknown=1", "-q"], 2, "-O unknown"),
    Case("unknown-option-named-method", ["reconstruct", "pts.xyz", "-o", "out", "--method", "occupancy", "-O", "bogus=1", "-q"], 2, "-O bogus"),
    Case("golden-nan-tolerance", ["golden", "check", "mesh.obj", "golden.npz", "--chamfer", "nan"], 2, "--chamfer", out=None),
    Case("golden-negative-tolerance", ["golden", "check", "mesh.obj", "golden.npz", "--vertex-atol", "-1"], 2, "--vertex-atol", out=None),
    Case("golden-empty-file", ["golden", "check", "mesh.obj", "empty.npz"], 3, "empty.npz", out=None),
    Case("corrupt-input", ["reconstruct", "corrupt.ply", "-o", "out", "-q"], 3, "corrupt.ply"),
    Case("cameras-r-not-rotation", ["reconstruct", "scene_r_not_rotation", "-o", "out", "-q"], 3, "cameras.json"),
    Case("cameras-t-negated", ["reconstruct", "scene_t_negated", "-o", "out", "-q"], 3, "cameras.json"),
    Case("cameras-nan-in-k", ["reconstruct", "scene_nan_k", "-o", "out", "-q"], 3, "cameras.json"),
    # 7. plugins that misbehave are named; the tool goes on where a warning serves
    Case("plugin-sys-exit-at-import", ["reconstruct", "pts.xyz", "-o", "out", "--method", "quick-hull", "-q"], 0, None,
         env={"PYTHONPATH": "{box}/plug_exit:{box}/plug_bad"}, warns="'exiting_plugin' failed: called sys.exit(0)"),
    Case("plugin-accepts-raises-and-bad-annotation", ["reconstruct", "pts.xyz", "-o", "out", "-q"], 0, None,
         env={"PYTHONPATH": "{box}/plug_bad"}, warns="bad_plugin", then=_no_plugin_annotation),
    Case("plugin-run-raises", ["reconstruct", "pts.xyz", "-o", "out", "--method", "bad-run", "-q"], 1, "of plugin 'bad_plugin'",
         env={"PYTHONPATH": "{box}/plug_bad"}),
    # 10. duplicated points are merged; OUT follows the umask
    Case("duplicate-points", ["mesh", "dup.xyz", "-o", "out", "-q", *QUICK_MESH], 0, None, env={"UMASK": "002"}, then=_dedup_note),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_case(case: Case, sandbox: Path) -> None:
    env = {k: v.format(box=sandbox) for k, v in case.env.items()}
    umask = env.pop("UMASK", None)
    before = snapshot(sandbox)
    if umask is not None:
        old = os.umask(int(umask, 8))
    try:
        proc = recon(case.args, sandbox / case.cwd, **env)
    finally:
        if umask is not None:
            os.umask(old)
    out = sandbox / case.out if case.out else None
    check_contract(proc, case.code, case.names, before, snapshot(sandbox), out, sandbox, case.warns)
    if case.then is not None:
        case.then(sandbox)


# -- cases that need timing or a file system of their own ---------------------------------------------


def _wait_for_partial(parent: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list(parent.glob(".out.*.partial")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never created its partial folder"
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the run's work


SLOW_MESH = ["mesh", "pts.xyz", "-o", "out", "-q", "-O", "iterations=3000"]


@pytest.mark.parametrize(("signum", "says"), [(signal.SIGTERM, "stopped by signal 15;"), (signal.SIGINT, "interrupted;")])
def test_a_stop_signal_removes_the_partial_folder(sandbox: Path, signum: int, says: str) -> None:
    before = snapshot(sandbox)
    proc = subprocess.Popen(
        [str(RECON), *SLOW_MESH], cwd=sandbox, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a suite run in the background ignores SIGINT
    )
    _wait_for_partial(sandbox, proc)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    check_contract(result, 128 + signum, says, before, snapshot(sandbox), sandbox / "out", sandbox)
    assert not (sandbox / "out").exists()


def test_partial_folder_of_a_killed_run_is_removed_by_the_next_run(sandbox: Path) -> None:
    before = snapshot(sandbox)
    proc = subprocess.Popen([str(RECON), *SLOW_MESH], cwd=sandbox, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_partial(sandbox, proc)
    proc.kill()
    proc.wait(timeout=60)
    assert list(sandbox.glob(".out.*.partial")), "SIGKILL leaves the partial folder (nothing can clean up)"
    proc2 = recon(["reconstruct", "corrupt.ply", "-o", "out", "-q"], sandbox)  # fails after opening OUT
    check_contract(proc2, 3, "corrupt.ply", before, snapshot(sandbox), sandbox / "out", sandbox)


def test_two_runs_into_one_out_one_wins(sandbox: Path) -> None:
    before = snapshot(sandbox)
    args = [str(RECON), "mesh", "pts.xyz", "-o", "out", "-q", *QUICK_MESH]
    procs = [subprocess.Popen(args, cwd=sandbox, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [subprocess.CompletedProcess(p.args, p.wait(timeout=240), p.stdout.read(), p.stderr.read()) for p in procs]
    assert sorted(r.returncode for r in results) == [0, 2], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode == 2)
    assert "another recon run" in loser.stderr or "already exists" in loser.stderr
    for result in results:
        check_contract(result, result.returncode, "out", before, snapshot(sandbox), sandbox / "out", sandbox)
    assert (sandbox / "out" / "mesh.glb").is_file()


@pytest.fixture
def small_disk(sandbox: Path):
    """A 256 KiB tmpfs in the sandbox (root and mount rights needed; skipped otherwise)."""
    mount = sandbox / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.strip()}); the full-disk case needs it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_exit_3_and_leaves_nothing(sandbox: Path, small_disk: Path) -> None:
    before = snapshot(sandbox)
    face = REPO / "assets" / "demo_face" / "astronaut.jpg"
    proc = recon(["reconstruct", str(face), "-o", "disk/out", "-q", "-O", "photometric=false"], sandbox)
    check_contract(proc, 3, "no space left", before, snapshot(sandbox), sandbox / "disk" / "out", sandbox)
    assert list(small_disk.iterdir()) == []


def test_read_only_disk_is_found_before_any_work(sandbox: Path, small_disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    before = snapshot(sandbox)
    proc = recon(["reconstruct", "pts.xyz", "-o", "disk/out", "-q"], sandbox)
    check_contract(proc, 2, "disk/out", before, snapshot(sandbox), sandbox / "disk" / "out", sandbox)
    assert "Read-only" in proc.stderr
