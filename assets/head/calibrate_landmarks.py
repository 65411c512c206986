"""Calibrate MediaPipe's pose-dependent landmark bias (what :mod:`recon_face.landmark_bias` corrects).

    .venv/bin/python assets/head/calibrate_landmarks.py [--seeds 7,11,23] [--frames 200]

Writes ``landmark_bias.npz`` (the coefficients) and ``landmark_bias.json`` (how they were made
and the figures) into ``plugins/recon_face/data/``, the package data the wheel ships.

**Data**: one video per seed of recon's head (``head.npz``, made from the ICT Face Model by
``make_head.py`` beside this script) rendered by :func:`recon.testing.video_truth.head_clip`:
an identity, skin look, motion and expression curves drawn from the seed, turning by up to
+-35 deg of yaw and +-20 deg of pitch (twice the benchmark's nod) at 512 x 512 px, H.264. The
seeds are not the benchmarks' (0) and the Igea scan of ``benchmarks/video.py`` plays no part, so
those stay independent checks. Renders are cached (``/tmp/recon_scan_renders``); a first run
renders for about 2-5 minutes a clip on 2 cores.

**Fit**: MediaPipe tracks each clip as the video method does (:func:`recon_face.track.track`);
each found frame gives its landmarks minus the true projection of the head's 478 landmark points
(the posed head of that frame: identity, expression, pose all known), in metres at the face and
turned back by the head's roll (:func:`recon_face.landmark_bias.local_offsets`), against the
true viewing angles; least squares per landmark and axis on the six terms of
:data:`recon_face.landmark_bias.FEATURES`. The constant term is MediaPipe's bias seen from the
front plus where the head's landmark points sit against MediaPipe's (the registration of
``make_head.py``); correcting it too measured better on the benchmarks' rendered truth.

**Figures** (the card): the offsets' RMS before and after, pooled and leaving each clip out
(fitted on the others, scored on it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "plugins" / "recon_face" / "data"
PITCH_DEG, YAW_DEG = 20.0, 35.0


def clip_offsets(seed: int, frames: int) -> dict[str, np.ndarray]:
    """Every found frame's local offsets (F, 478, 2) metres and terms (F, 6) of one rendered clip."""
    from recon.structures import Camera
    from recon.testing.video_truth import ClipSettings, head_clip
    from recon_face.head_model import HeadModel
    from recon_face.landmark_bias import local_offsets
    from recon_face.track import track
    from recon_io.video import read_video

    truth = head_clip(ClipSettings(frames=frames, seed=seed, pitch_deg=PITCH_DEG, yaw_deg=YAW_DEG))
    data = np.load(truth.folder / "truth.npz")
    model = HeadModel.load("mid")
    centre = average_centre()
    size = int(json.loads((truth.folder / "truth.json").read_text())["size"][0])
    offsets, terms = [], []
    for k, tracked in enumerate(track(read_video(truth.video, {}).frames)):
        if tracked.points is None:
            continue
        camera = Camera(K=data["K"], R=data["R"][k], t=data["t"][k], width=size, height=size)
        true = camera.project(model.landmark_points(model.vertices(data["identity"], data["weights"][k])).astype(np.float64))
        local, term = local_offsets(camera, centre, tracked.points[:, :2] - true)
        offsets.append(local)
        terms.append(term)
    return {"offsets": np.stack(offsets), "terms": np.stack(terms), "frames": np.int64(truth.frames)}


def average_centre() -> np.ndarray:
    """The average head's landmarks' mean (head frame, metres): where the viewing angles are measured from."""
    from recon_face.head_model import HeadModel

    model = HeadModel.load("mid")
    return model.landmark_points(model.neutral).astype(np.float64).mean(0)


def rms_mm(offsets: np.ndarray, terms: np.ndarray | None = None, coef: np.ndarray | None = None) -> float:
    """RMS of the offsets (metres), or of what the coefficients leave of them, in millimetres."""
    if coef is not None:
        offsets = offsets - np.tensordot(terms, coef, axes=1)
    return round(float(np.sqrt((offsets**2).mean()) * 1000), 3)


def main() -> None:
    from recon_face.landmark_bias import FEATURES, fit_coefficients

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="7,11,23", help="one rendered clip per seed (not 0: the benchmarks' clip)")
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if 0 in seeds:
        raise SystemExit("seed 0 is the benchmarks' head clip; calibrate on others")
    start = time.perf_counter()
    clips = {}
    for seed in seeds:
        print(f"clip seed {seed}: rendering (or reusing) and tracking {args.frames} frames", file=sys.stderr, flush=True)
        clips[seed] = clip_offsets(seed, args.frames)
    offsets = np.concatenate([c["offsets"] for c in clips.values()])
    terms = np.concatenate([c["terms"] for c in clips.values()])
    coef = fit_coefficients(list(offsets), list(terms))
    held_out = {}
    for seed, clip in clips.items():
        others = [s for s in clips if s != seed]
        if others:
            fit = fit_coefficients(
                list(np.concatenate([clips[s]["offsets"] for s in others])), list(np.concatenate([clips[s]["terms"] for s in others]))
            )
            held_out[str(seed)] = {"before_mm": rms_mm(clip["offsets"]), "after_mm": rms_mm(clip["offsets"], clip["terms"], fit)}
    import mediapipe

    card = {
        "what": "MediaPipe face landmarker's landmark bias against the true projection, per landmark and image axis, "
        "a quadratic in the viewing angles (recon_face.landmark_bias)",
        "made_by": "assets/head/calibrate_landmarks.py",
        "features": list(FEATURES),
        "units": "metres at the face per term; angles in units of 30 degrees",
        "clips": {
            str(s): {"frames": int(c["frames"]), "frames_found": len(c["offsets"]), "yaw_deg": YAW_DEG, "pitch_deg": PITCH_DEG}
            for s, c in clips.items()
        },
        "rendered_from": "recon's head (head.npz: ICT Face Model, MIT) by recon.testing.video_truth.head_clip",
        "mediapipe": mediapipe.__version__,
        "rms_mm": {
            "raw": rms_mm(offsets),
            "after_constant_only": rms_mm(offsets - offsets.mean(0)),
            "after_model": rms_mm(offsets, terms, coef),
        },
        "held_out_clip_rms_mm": held_out,
        "angle_range_deg": {
            "yaw": [round(float(terms[:, 2].min() * 30), 1), round(float(terms[:, 2].max() * 30), 1)],
            "pitch": [round(float(terms[:, 1].min() * 30), 1), round(float(terms[:, 1].max() * 30), 1)],
        },
        "seconds": round(time.perf_counter() - start, 1),
    }
    DATA.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        DATA / "landmark_bias.npz",
        coefficients=coef.astype(np.float32),
        centre=average_centre().astype(np.float32),
        yaw_range_deg=np.array(card["angle_range_deg"]["yaw"], np.float32),
        pitch_range_deg=np.array(card["angle_range_deg"]["pitch"], np.float32),
    )
    (DATA / "landmark_bias.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
