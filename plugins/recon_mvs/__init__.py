"""Built-in multi-view stereo plugin (in progress): view selection (:mod:`recon_mvs.views`) and
plane-sweep depth (:mod:`recon_mvs.planesweep`), measured against real ground-truth depth by
``benchmarks/mvs.py``. Fusion, meshing and the MVSNet are not built yet, so it registers no
method."""

from __future__ import annotations

__version__ = "0.0.1"
