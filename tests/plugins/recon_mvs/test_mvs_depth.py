"""View selection and plane-sweep depth on real frames with ground truth (the HoloLens sample)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon_io.scene import read_scene
from recon_mvs.planesweep import downscale, plane_sweep
from recon_mvs.views import select_sources


@pytest.fixture(scope="module")
def hololens(shared_data: Path) -> tuple[Path, list]:
    folder = shared_data / "multiview_scene" / "hololens_dvmvs_000"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder, read_scene(folder, {}).frames


def test_sources_are_the_neighbours_that_overlap(hololens: tuple[Path, list]) -> None:
    _, frames = hololens
    cameras = [f.camera for f in frames]
    chosen = select_sources(cameras, 10, 5, depth=1.5)
    assert len(chosen) == 5 and 10 not in chosen
    assert all(abs(i - 10) <= 4 for i in chosen)  # a slow handheld sweep: the nearest frames overlap most


def test_plane_sweep_depth_against_ground_truth(hololens: tuple[Path, list]) -> None:
    """A quarter-resolution sweep of one frame from its five sources: most pixels within a factor
    1.25 of the measured depth (measured: median relative error ~0.15, ~65 % within 1.25)."""
    folder, frames = hololens
    cameras = [f.camera for f in frames]
    ref = 20
    small = [downscale(frames[i].image, cameras[i], 0.25) for i in [ref, *select_sources(cameras, ref, 5, 1.5)]]
    result = plane_sweep(*small[0], small[1:], 0.3, 6.0, planes=48, window=7)
    truth = np.asarray(Image.open(folder / "depth" / Path(frames[ref].source).name)).astype(np.float32) / 1000
    depth = np.asarray(Image.fromarray(result.depth).resize(truth.shape[::-1], Image.Resampling.NEAREST))
    m = truth > 0
    rel = np.abs(depth[m] - truth[m]) / truth[m]
    within = np.maximum(depth[m] / truth[m], truth[m] / depth[m]) < 1.25
    assert np.median(rel) < 0.3 and within.mean() > 0.45
    assert result.confidence.shape == result.depth.shape and 0 <= result.confidence.min() and result.confidence.max() <= 1
    # confident pixels are more often right than the rest
    conf = np.asarray(Image.fromarray(result.confidence).resize(truth.shape[::-1], Image.Resampling.NEAREST))[m]
    assert within[conf > np.median(conf)].mean() > within[conf <= np.median(conf)].mean()


def test_fusion_keeps_consistent_points_near_the_truth(hololens: tuple[Path, list]) -> None:
    """Five neighbouring frames swept at an eighth of their size and fused: the points that two
    sources confirm lie near the measured surface (measured: 829 points, median 4.2 cm at ~3 m),
    and a view whose sources disagree with it (its depth scaled by 1.5) keeps almost nothing."""
    from scipy.spatial import cKDTree

    from recon_mvs.fusion import DepthView, backproject, fuse

    folder, frames = hololens
    picks = [18, 19, 20, 21, 22]
    small = [downscale(frames[i].image, frames[i].camera, 0.125) for i in picks]
    views = []
    for k in range(len(picks)):
        others = [small[j] for j in range(len(picks)) if j != k]
        r = plane_sweep(*small[k], others, 0.3, 6.0, planes=48, window=5)
        views.append(DepthView(r.depth, r.confidence, small[k][0], small[k][1]))
    sources = [[j for j in range(len(picks)) if j != k] for k in range(len(picks))]
    cloud, stats = fuse(views, sources)
    assert len(cloud) > 200 and cloud.normals is not None and cloud.colors is not None
    truth = []
    for i in picks:
        depth = np.asarray(Image.open(folder / "depth" / Path(frames[i].source).name)).astype(np.float64) / 1000
        truth.append(backproject(depth, frames[i].camera)[depth > 0][::7])
    distance = cKDTree(np.concatenate(truth)).query(cloud.points.astype(np.float64))[0]
    assert np.median(distance) < 0.1
    wrong = [DepthView(views[0].depth * 1.5, views[0].confidence, views[0].image, views[0].camera), *views[1:]]
    _, bad = fuse(wrong, sources)
    assert bad[0]["kept"] < 0.2 * stats[0]["kept"]
