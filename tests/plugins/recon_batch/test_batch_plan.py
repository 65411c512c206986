"""``recon batch`` before Ray: captures from folders and manifests, fingerprints, the checks made
before any work, the skip rule, sizing, and the one line without Ray. No Ray process starts here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from recon.cli import make_cli
from recon.errors import UsageError
from recon.plugins import PluginHost
from recon_batch.captures import Capture, complete, discover, read_manifest
from recon_batch.engine import MEMORY_PER_TASK, MISSING_RAY, check_address, ray_installed, size
from recon_batch.ledger import Ledger, is_finished, report_stamp
from recon_batch.runner import check_out, sort_out
from recon_batch.worker import run_capture

from batch_helpers import write_clouds, write_corrupt

needs_ray = pytest.mark.skipif(not ray_installed(), reason="Ray is not installed: pip install -e '.[batch]' (the test extra has it)")


def run(args: list[object]) -> Result:
    return CliRunner().invoke(make_cli(), [str(a) for a in args], prog_name="recon")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost().load_entrypoints()


def fake_output(folder: Path, capture: Capture) -> None:
    """A complete recon output folder for ``capture`` (report.json and the files it lists)."""
    folder.mkdir(parents=True)
    (folder / "mesh.glb").write_bytes(b"glb")
    report = {"recon_version": "0.1.0", "method": "occupancy", "inputs": capture.inputs, "seed": capture.seed,
              "outputs": ["mesh.glb", "report.json"]}
    (folder / "report.json").write_text(json.dumps(report))


# -- the command line -----------------------------------------------------------------------------


def test_help_has_an_example() -> None:
    result = run(["batch", "--help"])
    assert result.exit_code == 0 and "Example:" in result.stdout and "--address" in result.stdout


def test_without_ray_one_line_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is not installed
    result = run(["batch", tmp_path, "-o", tmp_path / "out"])
    assert result.exit_code == 2
    assert result.stderr == f"recon: error: {MISSING_RAY}\n"
    assert "pip install -e '.[batch]'" in result.stderr and not (tmp_path / "out").exists()


@needs_ray
@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--method", "nope"], 2, "unknown method 'nope'"),
        (["--method", "occupancy", "-O", "voxels=3"], 2, "unknown option -O voxels for method 'occupancy'"),
        (["--format", "fbx"], 2, "unknown output format fbx"),
    ],
)
def test_bad_command_lines_fail_before_any_work(tmp_path: Path, shared_data: Path, extra: list[str], code: int, message: str) -> None:
    write_clouds(tmp_path / "caps", shared_data, 1)
    result = run(["batch", tmp_path / "caps", "-o", tmp_path / "out", *extra])
    assert result.exit_code == code, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@needs_ray
def test_missing_captures_and_manifest_inputs_are_bad_input(tmp_path: Path) -> None:
    result = run(["batch", tmp_path / "nowhere", "-o", tmp_path / "out"])
    assert result.exit_code == 3 and "no such folder" in result.stderr
    manifest = tmp_path / "m.csv"
    manifest.write_text("name,inputs\na,missing.ply\n")
    result = run(["batch", "--manifest", manifest, "-o", tmp_path / "out"])
    assert result.exit_code == 3 and f"{tmp_path / 'missing.ply'}: no such file or folder" in result.stderr


# -- captures -------------------------------------------------------------------------------------


def test_every_subfolder_and_readable_file_is_a_capture(tmp_path: Path, shared_data: Path, host: PluginHost) -> None:
    write_clouds(tmp_path, shared_data, 2)
    (tmp_path / "actor01").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "notes.txt").write_text("shoot notes")
    captures, ignored = discover(tmp_path, host.registry)
    assert [(c.name, c.inputs) for c in captures] == [
        ("actor01", [str(tmp_path / "actor01")]), ("cloud0", [str(tmp_path / "cloud0.npz")]), ("cloud1", [str(tmp_path / "cloud1.npz")]),
    ]
    assert ignored == [{"path": str(tmp_path / "notes.txt"), "reason": "no reader claims it"}]
    (tmp_path / "cloud0.xyz").write_text("0 0 0\n")
    with pytest.raises(UsageError, match="cloud0.npz and cloud0.xyz would both be written to OUT/cloud0"):
        discover(tmp_path, host.registry)


def test_csv_manifest_rows_with_their_own_options(tmp_path: Path) -> None:
    manifest = tmp_path / "shoot.csv"
    manifest.write_text(
        "name,inputs,method,options,seed\n"
        "take1,a.jpg;b.jpg,face,texture_size=256;photometric=false,\n"
        ",scans/chair.ply,,mode=prior,7\n"
    )
    rows = complete(read_manifest(manifest, None), "occupancy", {"mise_start": 16, "mode": "fit"}, 0, ("glb",))
    assert rows[0].as_dict() == {
        "name": "take1", "inputs": [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")], "method": "face",
        "options": {"mise_start": 16, "mode": "fit", "texture_size": 256, "photometric": False}, "seed": 0,
        "formats": ["glb"], "key": rows[0].key,
    }
    assert (rows[1].name, rows[1].method, rows[1].options["mode"], rows[1].seed) == ("chair", "occupancy", "prior", 7)
    assert read_manifest(manifest, tmp_path / "base")[1].inputs == [str(tmp_path / "base" / "scans" / "chair.ply")]


def test_json_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "shoot.json"
    manifest.write_text(json.dumps({"captures": [{"inputs": "/data/x.ply", "options": {"mise-start": 8}}]}))
    (row,) = read_manifest(manifest, None)
    assert (row.name, row.inputs, row.options, row.seed) == ("x", ["/data/x.ply"], {"mise_start": 8}, None)


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("name,paths\na,b.ply\n", ".csv", "the header must hold 'inputs'"),
        ("name,inputs\n../up,b.ply\n", ".csv", "capture name '../up' cannot be a folder in OUT"),
        ("name,inputs\na,b.ply\na,c.ply\n", ".csv", "line 3: the name 'a' is used twice"),
        ("name,inputs,options\na,b.ply,novalue\n", ".csv", "line 2: options: 'novalue' is not key=value"),
        ("name,inputs,seed\na,b.ply,x\n", ".csv", "seed 'x' is not an integer"),
        ("[{\"name\": \"a\"}]", ".json", "row 1: no inputs"),
        ("{\"inputs\": 1", ".json", "not valid JSON"),
        ("inputs: a", ".yaml", "give a .csv or .json file"),
    ],
)
def test_bad_manifests_are_refused_with_the_row(tmp_path: Path, text: str, suffix: str, message: str) -> None:
    manifest = tmp_path / f"m{suffix}"
    manifest.write_text(text)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("[", r"\[")):
        read_manifest(manifest, None)


def test_fingerprint_follows_options_seed_and_input_files(tmp_path: Path, shared_data: Path) -> None:
    (cloud,) = write_clouds(tmp_path, shared_data, 1)
    make = lambda **kw: complete([Capture("c", [str(cloud)])], None, kw.pop("options", {}), kw.pop("seed", 0), ("glb", "obj"))[0].key
    base = make()
    assert make() == base
    assert make(options={"mode": "prior"}) != base and make(seed=1) != base
    os.utime(cloud, ns=(1, 1))
    assert make() != base


# -- OUT and the skip rule --------------------------------------------------------------------------


def test_out_is_checked(tmp_path: Path) -> None:
    caps = tmp_path / "caps"
    caps.mkdir()
    with pytest.raises(UsageError, match="overlaps the input"):
        check_out(caps / "out", [caps])
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        check_out(tmp_path / "file", [])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(UsageError, match="holds files recon batch did not write"):
        check_out(tmp_path / "mine", [])
    with pytest.raises(UsageError, match="current folder"):
        check_out(Path("."), [])
    check_out(tmp_path / "new", [caps])  # a new folder is fine


def _ledger(out: Path, captures: list[Capture], entries: list[dict]) -> Ledger:
    return Ledger(out, {}, captures, {"recon_batch": "0.1.0", "captures": entries})


def test_skip_rule(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done, running, stale, foreign, new = (complete([Capture(n, [f"/in/{n}.ply"])], None, {}, 0, ("glb",))[0]
                                          for n in ("done", "running", "stale", "foreign", "new"))
    for capture in (done, running, stale):
        fake_output(out / capture.name, capture)
    (out / "foreign").mkdir()
    (out / "foreign" / "photo.jpg").write_bytes(b"x")
    entries = [
        {**done.as_dict(), "status": "done", "report_stamp": report_stamp(out / "done")},
        {**running.as_dict(), "status": "running", "stamp_before": None},  # killed after its swap
        {**stale.as_dict(), "key": "other options", "status": "done", "report_stamp": report_stamp(out / "stale")},
    ]
    ledger = _ledger(out, [done, running, stale, new], entries)
    assert is_finished(done, out / "done", ledger.previous["done"])
    assert is_finished(running, out / "running", ledger.previous["running"])
    assert not is_finished(stale, out / "stale", ledger.previous["stale"])
    assert not is_finished(new, out / "new", None)
    with pytest.raises(UsageError, match=r"out/stale: recon output for other inputs or options .* pass --overwrite"):
        sort_out([done, running, stale, new], out, ledger, overwrite=False)
    todo, finished = sort_out([done, running, stale, new], out, ledger, overwrite=True)
    assert [c.name for c in todo] == ["stale", "new"] and [c.name for c in finished] == ["done", "running"]
    with pytest.raises(UsageError, match="out/foreign: not a folder recon wrote"):
        sort_out([foreign], out, _ledger(out, [foreign], []), overwrite=True)
    # a report replaced after the batch (another run into the folder) is not this capture's
    (out / "done" / "report.json").write_text((out / "done" / "report.json").read_text() + " ")
    assert not is_finished(done, out / "done", ledger.previous["done"])


def test_sizing_from_cpus_and_memory() -> None:
    assert size(8, 64 * 2**30, None, None) == (8, 1)
    assert size(8, 5 * MEMORY_PER_TASK, None, None) == (5, 1)
    assert size(8, 64 * 2**30, 2, None) == (2, 4)
    assert size(8, 64 * 2**30, None, 2) == (4, 2)
    assert size(2, 0, None, None) == (1, 1)


# -- the worker's function, in this process ---------------------------------------------------------


def test_a_failed_capture_is_a_result_with_its_error_line(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recon_batch.worker.limit_threads", lambda cpus: None)  # keep this process's threads
    broken = write_corrupt(tmp_path / "broken.ply", shared_data)
    env = {k: v for k, v in os.environ.items() if k.startswith("RECON_")}
    spec = {"name": "broken", "inputs": [str(broken)], "out": str(tmp_path / "out" / "broken"), "method": "occupancy",
            "options": {}, "formats": ["glb"], "seed": 0, "overwrite": False, "cpus": 1, "strict": False, "env": env}
    result = run_capture(spec)
    assert result["status"] == "failed" and result["exit_code"] == 3
    assert result["error"].startswith(f"{broken}: cannot read .ply file")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_address_where_nothing_answers_fails_at_once() -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UsageError, match=f"--address 127.0.0.1:{port}: nothing answers there"):
        check_address(f"127.0.0.1:{port}")
    with pytest.raises(UsageError, match="give the head's HOST:PORT"):
        check_address("head-node")
    with pytest.raises(UsageError, match="Ray Client addresses are not supported"):
        check_address("ray://head:10001")


def test_the_stop_file_stops_a_run_at_its_next_stop_point(tmp_path: Path) -> None:
    """A capture learns that the batch is stopping from its stop file; the run unwinds at a stop
    point (no exception thrown into native code), and a stop that came too late for a finished
    run is forgotten, so this worker's next capture runs."""
    import time

    from recon.errors import Terminated, stop_point
    from recon_batch.worker import _watch_stop_file

    stop = tmp_path / "stop"
    steps = 0
    with pytest.raises(Terminated):
        with _watch_stop_file(str(stop), every_s=0.02):
            stop.touch()
            for steps in range(500):
                stop_point()
                time.sleep(0.01)
    assert steps < 100
    with _watch_stop_file(str(stop), every_s=0.02):
        time.sleep(0.1)  # the watcher asks for a stop that no stop point sees
    stop.unlink()
    stop_point()  # forgotten: does not raise
