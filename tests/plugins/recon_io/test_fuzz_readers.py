"""Every reader fed random and mutated bytes: a read either succeeds with sane data or raises a
ReconError (BadInputError, UsageError) whose one-line message names the file; nothing else.

Readers are reached through the plugin registry (``reader_for``), so dispatch is covered too.
The seeds are small valid files made here; each example mutates one (truncation, byte flips,
inserted junk, deletions, duplicated runs, an emptied file, numbers in text formats replaced by
NaN, inf, huge or odd values) or replaces it with random bytes.

The default run is short (a fixed, derandomized set of examples). A long run:
``RECON_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/plugins/recon_io/test_fuzz_readers.py``
(random each time; a failure prints the example and a ``@reproduce_failure`` blob).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from recon.errors import BadInputError, ReconError, UsageError
from recon.plugins import PluginHost
from recon.registry import Registry
from recon.structures import Camera, Inputs
from recon.testing.cli import run_recon

LONG_EXAMPLES = int(os.environ.get("RECON_FUZZ_EXAMPLES", "0") or 0)
_COMMON = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("recon-fuzz-short", max_examples=10, derandomize=True, **_COMMON)
settings.register_profile("recon-fuzz-long", max_examples=max(LONG_EXAMPLES, 1), print_blob=True, **_COMMON)
# applied per test, not loaded globally: other tests keep their own Hypothesis settings
FUZZ = settings(settings.get_profile("recon-fuzz-long" if LONG_EXAMPLES else "recon-fuzz-short"))

SPECIAL_NUMBERS = [b"nan", b"NaN", b"-nan", b"inf", b"-inf", b"Infinity", b"1e400", b"-1e400", b"1e-400", b"0", b"-0",
                   b"-1", b"1e308", b"99999999999999999999", b"4294967296", b"2147483647", b"65536", b"", b"x", b"1.2.3"]
NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
JUNK = [b"\x00" * 8, b"\xff" * 8, b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\n", b"\r\n", b" ", b"{", b"]", b"\"", b"\xef\xbb\xbf",
        b"element vertex 4000000000\n", b"end_header\n", b"f 1 2 99999\n", b"facet normal", b"\\n", b"\\u0000"]


# -- seeds ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Seed:
    """A valid file to mutate: where it goes in an example folder and which reader must claim it."""

    name: str  # file name, or path relative to the scene folder for scene files
    content: bytes
    text: bool
    reader: str
    scene: dict[str, bytes] | None = None  # the scene's other files (None: a single-file input)

    def __repr__(self) -> str:  # Hypothesis prints the fixtures of a failing example
        return f"Seed({self.name!r}, {len(self.content)} bytes)"

    def write(self, folder: Path, content: bytes) -> Path:
        """Write the example into ``folder``; return the path given to the reader."""
        if self.scene is None:
            (folder / self.name).write_bytes(content)
            return folder / self.name
        scene = folder / "scene"
        for name, data in {**self.scene, self.name: content}.items():
            (scene / name).parent.mkdir(parents=True, exist_ok=True)
            (scene / name).write_bytes(data)
        return scene


def _image_bytes(path: Path, rgba: bool = False, **save: object) -> bytes:
    rng = np.random.default_rng(len(path.name))
    pixels = rng.integers(0, 255, (12, 16, 4 if rgba else 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, **save)
    return path.read_bytes()


def _video_bytes(path: Path, codec: str, n: int = 6) -> bytes:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for i in range(n):
            image = np.full((24, 32, 3), i * 30, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def _ring(n: int = 3, w: int = 16, h: int = 12) -> list[Camera]:
    from scipy.spatial.transform import Rotation

    K = [[20.0, 0, (w - 1) / 2], [0, 20.0, (h - 1) / 2], [0, 0, 1]]
    return [Camera(K=K, R=Rotation.from_euler("y", 360 * i / n, degrees=True).as_matrix(), t=[0, 0, 3],
                   width=w, height=h, name=f"view_{i:03d}.png") for i in range(n)]


def _scene_seeds(folder: Path) -> dict[str, Seed]:
    from recon.cameras import DepthRange, to_mvsnet
    from recon_io.scene import write_scene_cameras

    cams = _ring()
    images = {cam.name: _image_bytes(folder / cam.name, rgba=True) for cam in cams}
    doc = write_scene_cameras(cams, folder, bounds=[[-1, -1, -1], [1, 1, 1]]).read_bytes()
    par = f"{len(cams)}\n" + "".join(
        f"{c.name} " + " ".join(f"{v:.10g}" for v in [*c.K.ravel(), *c.R.ravel(), *c.t]) + "\n" for c in cams
    )
    mvsnet = {f"cams/{i:08d}_cam.txt": to_mvsnet(c, DepthRange(2.0, 0.1, 20)).encode() for i, c in enumerate(cams)}
    mvsnet_images = {f"images/{i:08d}.png": images[c.name] for i, c in enumerate(cams)}
    first = "cams/00000000_cam.txt"
    return {
        "scene-cameras.json": Seed("cameras.json", doc, True, "scene", images),
        "scene-image": Seed(cams[0].name, images[cams[0].name], False, "scene",
                            {"cameras.json": doc, **{k: v for k, v in images.items() if k != cams[0].name}}),
        "scene-middlebury": Seed("ring_par.txt", par.encode(), True, "scene", images),
        "scene-mvsnet": Seed(first, mvsnet[first], True, "scene", {**mvsnet_images, **{k: v for k, v in mvsnet.items() if k != first}}),
    }


class Seeds(dict):
    def __repr__(self) -> str:
        return f"Seeds({', '.join(self)})"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Seed]:
    import trimesh

    folder = tmp_path_factory.mktemp("seeds")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = {
        "jpg": Seed("seed.jpg", _image_bytes(folder / "seed.jpg", exif=exif), False, "image"),
        "png": Seed("seed.png", _image_bytes(folder / "seed.png", rgba=True), False, "image"),
        "webp": Seed("seed.webp", _image_bytes(folder / "seed.webp", lossless=True), False, "image"),
        "tiff": Seed("seed.tiff", _image_bytes(folder / "seed.tiff", compression="tiff_deflate"), False, "image"),
        "bmp": Seed("seed.bmp", _image_bytes(folder / "seed.bmp"), False, "image"),
    }
    for ext, codec in (("mp4", "libx264"), ("mov", "mpeg4"), ("avi", "mjpeg"), ("webm", "libvpx"), ("mkv", "ffv1")):
        out[ext] = Seed(f"seed.{ext}", _video_bytes(folder / f"seed.{ext}", codec), False, "video")
    box = trimesh.creation.box(extents=(1, 2, 3))
    for key, name, kwargs, text in (
        ("obj", "box.obj", {}, True), ("off", "box.off", {}, True), ("stl", "box.stl", {}, False),
        ("stl-ascii", "box.stl", {"file_type": "stl_ascii"}, True), ("glb", "box.glb", {}, False),
        ("ply", "box.ply", {}, False), ("ply-ascii", "box.ply", {"encoding": "ascii"}, True),
    ):
        data = box.export(file_type=kwargs.get("file_type", name.rsplit(".", 1)[1]), **{k: v for k, v in kwargs.items() if k != "file_type"})
        out[key] = Seed(name, data if isinstance(data, bytes) else data.encode(), text, "mesh")
    rng = np.random.default_rng(0)
    points = rng.normal(size=(20, 3))
    cloud = trimesh.PointCloud(points, colors=rng.integers(0, 255, (20, 4), dtype=np.uint8))
    out["ply-points"] = Seed("points.ply", cloud.export(file_type="ply", encoding="ascii"), True, "mesh")
    out["xyz"] = Seed("points.xyz", "".join(f"{x:.6g} {y:.6g} {z:.6g} 0 0 1\n" for x, y, z in points).encode(), True, "points")
    np.savez(folder / "points.npz", points=points, normals=points, colors=np.full((20, 3), 0.5), labels=np.arange(20))
    np.savez_compressed(folder / "batch.npz", points=rng.normal(size=(2, 10, 3)))
    out["npz"] = Seed("points.npz", (folder / "points.npz").read_bytes(), False, "points")
    out["npz-compressed"] = Seed("batch.npz", (folder / "batch.npz").read_bytes(), False, "points")
    scene_folder = folder / "scene"
    scene_folder.mkdir()
    out.update(_scene_seeds(scene_folder))
    return Seeds(out)


SEED_KINDS = ["jpg", "png", "webp", "tiff", "bmp", "mp4", "mov", "avi", "webm", "mkv", "obj", "off", "stl", "stl-ascii", "glb",
              "ply", "ply-ascii", "ply-points", "xyz", "npz", "npz-compressed",
              "scene-cameras.json", "scene-image", "scene-middlebury", "scene-mvsnet"]


class Readers:
    """The registry the command line builds (every entry point loaded); short to print."""

    def __init__(self) -> None:
        self.registry = PluginHost().load_entrypoints().registry

    def __repr__(self) -> str:
        return f"Readers({', '.join(r.name for r in self.registry.readers)})"


@pytest.fixture(scope="module")
def readers() -> Readers:
    return Readers()


# -- mutations -----------------------------------------------------------------------------------------
@st.composite
def mutated(draw: Callable, seed: bytes, text: bool) -> bytes:
    """``seed`` with one to three mutations, or random bytes."""
    ops = ["truncate", "flip", "insert", "delete", "duplicate", "empty", "random"] + ["number"] * (4 if text else 0)
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 3), label="mutations")):
        op = draw(st.sampled_from(ops), label="op")
        n = len(data)
        if op == "truncate":
            del data[draw(st.integers(0, n)):]
        elif op == "flip" and n:
            i = draw(st.integers(0, n - 1))
            data[i] ^= draw(st.integers(1, 255))
        elif op == "insert":
            i = draw(st.integers(0, n))
            data[i:i] = draw(st.sampled_from(JUNK) | st.binary(min_size=1, max_size=32))
        elif op == "delete":
            i = draw(st.integers(0, n))
            del data[i : draw(st.integers(i, min(n, i + 64)))]
        elif op == "duplicate" and n:
            i = draw(st.integers(0, n - 1))
            j = draw(st.integers(0, n))
            data[j:j] = data[i : i + draw(st.integers(1, 64))]
        elif op == "empty":
            data = bytearray()
        elif op == "random":
            data = bytearray(draw(st.binary(max_size=1024)))
        elif op == "number":
            numbers = list(NUMBER.finditer(bytes(data)))
            if numbers:
                m = draw(st.sampled_from(numbers))
                data[m.start() : m.end()] = draw(st.sampled_from(SPECIAL_NUMBERS))
    return bytes(data)


# -- the contract ----------------------------------------------------------------------------------------
def read_through_registry(registry: Registry, path: Path, reader_name: str) -> Inputs | ReconError:
    """Read ``path`` with the reader the registry picks; the ReconError it raised, checked, or the inputs."""
    reader = registry.reader_for(path)
    assert reader is not None and reader.name == reader_name, f"{path.name} dispatched to {reader and reader.name}"
    try:
        inputs = reader.read(path, {})
    except ReconError as exc:
        assert isinstance(exc, (BadInputError, UsageError)), f"{type(exc).__name__}: {exc}"
        message = str(exc)
        assert message.strip() and len(message.splitlines()) == 1 and "\r" not in message, repr(message)
        assert str(path) in message, f"the message does not name {path}: {message!r}"
        assert "; " in message, f"the message says no fix: {message!r}"
        return exc
    check_inputs(inputs)
    return inputs


def check_inputs(inputs: Inputs) -> None:
    """What a successful read promises the methods."""
    assert inputs.frames or inputs.point_clouds or inputs.meshes
    for frame in inputs.frames:
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3 and frame.image.size
        if frame.camera is not None:
            cam = frame.camera
            assert all(np.isfinite(a).all() for a in (cam.K, cam.R, cam.t))
            assert (cam.width, cam.height) == (frame.width, frame.height)
    for cloud in inputs.point_clouds:
        assert cloud.points.ndim == 2 and cloud.points.shape[1] == 3 and len(cloud.points) and np.isfinite(cloud.points).all()
    for mesh in inputs.meshes:
        assert len(mesh.faces) and np.isfinite(mesh.vertices).all()
        assert mesh.faces.min() >= 0 and mesh.faces.max() < len(mesh.vertices)


# -- the fuzz tests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SEED_KINDS)
@FUZZ
@given(data=st.data())
def test_mutated_seed(kind: str, seeds: dict[str, Seed], readers: Readers, data: st.DataObject) -> None:
    seed = seeds[kind]
    content = data.draw(mutated(seed.content, seed.text), label="content")
    with tempfile.TemporaryDirectory() as tmp:
        read_through_registry(readers.registry, seed.write(Path(tmp), content), seed.reader)


def test_seeds_are_valid(seeds: dict[str, Seed], readers: Readers, tmp_path: Path) -> None:
    """Unmutated, every seed reads: the mutations start from files the readers accept."""
    assert set(seeds) == set(SEED_KINDS)
    for kind, seed in seeds.items():
        folder = tmp_path / kind
        folder.mkdir()
        result = read_through_registry(readers.registry, seed.write(folder, seed.content), seed.reader)
        assert isinstance(result, Inputs), f"{kind}: {result}"


def _extensions() -> list[str]:
    from recon_io import IMAGE_EXTENSIONS, MESH_EXTENSIONS, PLY_EXTENSIONS, POINT_EXTENSIONS, VIDEO_EXTENSIONS

    return sorted({*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS, *POINT_EXTENSIONS, *MESH_EXTENSIONS, *PLY_EXTENSIONS})


@pytest.mark.parametrize("ext", _extensions())
@FUZZ
@given(content=st.binary(max_size=2048))
def test_random_bytes(ext: str, readers: Readers, content: bytes) -> None:
    """Every extension a reader claims (``.jpeg``, ``.tif``, ``.gltf`` included), random bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"random{ext}"
        path.write_bytes(content)
        reader = readers.registry.reader_for(path)
        assert reader is not None and ext in reader.extensions
        read_through_registry(readers.registry, path, reader.name)


# -- through the real command line -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["jpg", "ply", "mp4", "scene-cameras.json"])
def test_cli_corrupt_input_exit_3(kind: str, seeds: dict[str, Seed], tmp_path: Path) -> None:
    seed = seeds[kind]
    content = seed.content[: len(seed.content) // 3] if kind != "scene-cameras.json" else _not_a_rotation(seed.content)
    path = seed.write(tmp_path, content)
    for quiet in (["-q"], []):
        out = tmp_path / f"out{len(quiet)}"
        run = run_recon("reconstruct", path, "-o", out, *quiet, env={**os.environ, "NO_COLOR": "1"}, timeout=120)
        assert run.returncode == 3, run.stderr
        assert "Traceback" not in run.stderr and "internal error" not in run.stderr
        errors = [line for line in run.stderr.splitlines() if line.startswith("recon: error: ")]
        assert len(errors) == 1 and str(path) in errors[0], run.stderr
        if quiet:
            assert run.stderr.strip() == errors[0], run.stderr
        assert not out.exists()


def _not_a_rotation(doc: bytes) -> bytes:
    data = json.loads(doc)
    data["frames"][0]["R"] = (2 * np.eye(3)).tolist()
    return json.dumps(data).encode()
