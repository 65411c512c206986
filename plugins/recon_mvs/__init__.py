"""Built-in multi-view stereo plugin (in progress): view selection (:mod:`recon_mvs.views`),
plane-sweep depth (:mod:`recon_mvs.planesweep`), an MVSNet (:mod:`recon_mvs.mvsnet`) trained on
synthetic rooms (:mod:`recon_mvs.synthetic`, ``assets/mvsnet/train_mvsnet.py``), and depth fusion
into a coloured cloud with normals (:mod:`recon_mvs.fusion`), measured against real ground-truth
depth by ``benchmarks/mvs.py``. Meshing, texturing and the method are not built yet, so it
registers nothing and is not an entry point."""

from __future__ import annotations

__version__ = "0.0.1"
