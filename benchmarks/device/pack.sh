#!/bin/bash
# Packs what a lent GPU machine lacks into .gpu/ (git-ignored through .git/info/exclude), to be
# carried by the device tool's `carry: [".gpu"]` and used by run_avatar.sh (the MVSNet training
# needs none of it: see README.md).
# The machine (seen 2026-11: Python 3.12, torch 2.11.0+cu130, no PyTorch3D, kornia, av, trimesh,
# pygltflib, xatlas, fast-simplification or MediaPipe) is offline, and the carry limit is 64 MiB
# with the working tree (about 19 MB), so: cp312 wheels, PyTorch3D's .so stripped of its debug
# info (200 MB -> 44 MB, 8.8 MB as xz), one tar.xz (about 40 MB). Run from the checkout's root:
#   bash benchmarks/device/pack.sh [CLIP]      (CLIP: a face video to track here first; default wojtek)
set -euo pipefail
ROOT=$(pwd)
CLIP=${1:-../shared/data/face_video/metrical_tracker/wojtek/video.mp4}
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude
rm -rf .gpu /tmp/recon-site /tmp/recon-wheels && mkdir -p .gpu /tmp/recon-site /tmp/recon-wheels
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d /tmp/recon-wheels easypytorch3d==0.7.9.post1 kornia_rs==0.2.0 av==18.1.0 xatlas==0.0.11 fast_simplification==0.2.0
cd /tmp/recon-site
for w in /tmp/recon-wheels/*.whl; do unzip -q -o "$w"; done
strip --strip-debug pytorch3d/_C*.so
rm -rf pytorch3d/implicitron
SP=$("$ROOT/.venv/bin/python" -c "import site; print(site.getsitepackages()[0])")
for pkg in iopath dataclasses_json marshmallow deprecated kornia trimesh pygltflib; do cp -r "$SP/$pkg" .; done  # pure Python
find . -name __pycache__ -prune -exec rm -rf {} +
cd "$ROOT"
tar -C /tmp/recon-site -cf - . | xz -T0 -6 > .gpu/site.tar.xz
cp recon.egg-info/entry_points.txt .gpu/entry_points.txt  # recon pins Python <3.12: its entry points go in by hand there
cp "$CLIP" .gpu/video.mp4
.venv/bin/recon reconstruct "$CLIP" -o .gpu/work/wojtek/tracking -O preview_video=false -q  # MediaPipe runs here, not there
find .gpu/work/wojtek/tracking -type f ! -name tracking.npz -delete
du -sh .gpu
