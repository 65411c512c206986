#!/bin/bash
# The prepared GPU run of issue 11 (run by the device tool from the checkout's root, carrying .gpu
# made by pack.sh; timeout_s 595): the carried packages unpacked, then benchmarks/avatar.py at the
# GPU defaults (512 px, 12,000 steps) on the pre-tracked clip, then benchmarks/raster.py --device
# cuda with the time left. Everything it reports lands in $OUT.
set -u
T0=$SECONDS
mkdir -p /tmp/site && tar -C /tmp/site -xJf .gpu/site.tar.xz || { echo "unpack failed"; exit 9; }
mkdir -p /tmp/site/recon-0.0.dist-info
printf 'Metadata-Version: 2.1\nName: recon\nVersion: 0.0\n' > /tmp/site/recon-0.0.dist-info/METADATA
cp .gpu/entry_points.txt /tmp/site/recon-0.0.dist-info/
export PYTHONPATH=/tmp/site:$PWD:$PWD/plugins PYTHONUNBUFFERED=1
mkdir -p ../shared/data/face_video/metrical_tracker/wojtek && cp .gpu/video.mp4 ../shared/data/face_video/metrical_tracker/wojtek/video.mp4
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
python3 -c "import torch, pytorch3d, kornia, av, trimesh, xatlas, pygltflib, fast_simplification; from recon.plugins import PluginHost; print(torch.__version__, torch.cuda.get_device_name(0), sorted(PluginHost().load_entrypoints().registry.methods))" 2>&1 | tee "$OUT/imports.txt"
timeout -s INT $((${BUDGET:-500}-SECONDS+T0)) python3 benchmarks/avatar.py --clips wojtek --device cuda --work .gpu/work --picture "$OUT/heldout.png" > "$OUT/avatar.json" 2> "$OUT/avatar.log"
echo "avatar rc $? at $((SECONDS-T0)) s"
cp .gpu/work/wojtek/report.json "$OUT/report.json" 2>/dev/null
timeout $((575-SECONDS+T0)) python3 benchmarks/raster.py --device cuda > "$OUT/raster.json" 2> "$OUT/raster.log"; echo "raster rc $? at $((SECONDS-T0)) s"
tail -c 2000 "$OUT/avatar.log"
