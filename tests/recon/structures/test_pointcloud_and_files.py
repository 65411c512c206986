"""PointCloud's PLY bytes and the file names a Reconstruction may carry."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh

from recon.structures import PointCloud, Reconstruction


def test_point_cloud_ply_round_trips_points_normals_and_colours() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 3)).astype(np.float32)
    normals = rng.normal(size=(50, 3)).astype(np.float32)
    colours = rng.integers(0, 255, (50, 3), dtype=np.uint8)
    loaded = trimesh.load(io.BytesIO(PointCloud(points, normals=normals, colors=colours).to_ply()), file_type="ply")
    assert np.array_equal(np.asarray(loaded.vertices, dtype=np.float32), points)
    assert np.array_equal(np.asarray(loaded.colors)[:, :3], colours)
    header = PointCloud(points, normals=normals).to_ply().split(b"end_header")[0].decode()
    assert "property float nx" in header and "red" not in header


@pytest.mark.parametrize("name", ["depth/0001.png", "animation.csv"])
def test_files_may_sit_in_one_folder(name: str) -> None:
    assert name in Reconstruction("m", files={name: b""}).files


@pytest.mark.parametrize("name", ["a/b/c.png", "../x.png", "depth/.hidden", ".x", "report.json", "/abs.png", "depth/"])
def test_files_refuse_other_names(name: str) -> None:
    with pytest.raises(ValueError, match="file name"):
        Reconstruction("m", files={name: b""})
