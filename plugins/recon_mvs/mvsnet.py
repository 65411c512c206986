"""recon's MVSNet: learned multi-view depth (Yao et al. 2018), small enough to train and run on a CPU.

1. A 2D CNN turns every view into 16-channel features at a quarter of its size.
2. The source views' features are warped onto the reference's fronto-parallel planes (uniform in
   inverse depth, :func:`recon_mvs.planesweep.warp_grid` at the features' scale) and their variance
   across the views is the cost volume (16 x planes x H/4 x W/4).
3. A small 3D U-Net regularises it into one score per plane and pixel; softmax over the planes.
   Batch normalisation always uses the statistics of the views at hand (no running averages:
   cost volumes differ too much from scene to scene for them, and evaluation with them failed on
   some rooms), so training and inference normalise alike.
4. Depth is the expectation of inverse depth under that distribution (soft argmin); confidence is
   the probability within two planes of it (MVSNet's).

The same code runs on a GPU (tensors on its device).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recon.structures import Camera
from recon_mvs.planesweep import warp_grid

FORMAT = "recon-mvsnet"  # the format tag of its weights file (recon.weights)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout, track_running_stats=False), nn.ReLU(inplace=True))


def _conv3(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm3d(cout, track_running_stats=False), nn.ReLU(inplace=True))


class Features(nn.Module):
    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(3, 8), _conv(8, 8), _conv(8, 16, 2), _conv(16, 16), _conv(16, 32, 2), _conv(32, 32), nn.Conv2d(32, channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Regulariser(nn.Module):
    """A 3D U-Net of two levels over (B, C, D, H, W), one score per plane and pixel."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.c0 = _conv3(channels, 8)
        self.c1 = nn.Sequential(_conv3(8, 16, 2), _conv3(16, 16))
        self.c2 = nn.Sequential(_conv3(16, 32, 2), _conv3(32, 32))
        self.u1 = nn.Sequential(nn.ConvTranspose3d(32, 16, 3, 2, 1, output_padding=1, bias=False), nn.BatchNorm3d(16, track_running_stats=False), nn.ReLU(inplace=True))
        self.u0 = nn.Sequential(nn.ConvTranspose3d(16, 8, 3, 2, 1, output_padding=1, bias=False), nn.BatchNorm3d(8, track_running_stats=False), nn.ReLU(inplace=True))
        self.out = nn.Conv3d(8, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.c0(x)
        b = self.c1(a)
        c = self.c2(b)
        b = b + _fit(self.u1(c), b)
        a = a + _fit(self.u0(b), a)
        return self.out(a)[:, 0]


def _fit(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Crop or pad ``x``'s last three dimensions to ``like``'s (odd sizes after striding)."""
    pads = []
    for dim in (-1, -2, -3):
        diff = like.shape[dim] - x.shape[dim]
        pads += [0, diff]
    return F.pad(x, pads)


class MVSNet(nn.Module):
    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False):  # noqa: ANN201
        """As nn.Module's, ignoring the running averages an older checkpoint may hold."""
        unused = ("running_mean", "running_var", "num_batches_tracked")
        return super().load_state_dict({k: v for k, v in state_dict.items() if not k.endswith(unused)}, strict, assign)

    def __init__(self, channels: int = 16, planes: int = 48) -> None:
        super().__init__()
        self.planes = planes
        self.features = Features(channels)
        self.regulariser = Regulariser(channels)

    def forward(self, images: torch.Tensor, cameras: list[Camera], near: float, far: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Depth and confidence (H/4, W/4) of view 0 of ``images`` (V, 3, H, W, in [0, 1]) seen by
        ``cameras`` (at the images' size), between ``near`` and ``far`` metres."""
        from recon.cameras import scale_camera

        device = images.device
        feats = self.features(images * 2.0 - 1.0)  # (V, C, h, w)
        h, w = feats.shape[-2:]
        scale = w / images.shape[-1]
        small = [scale_camera(c, scale) for c in cameras]
        small = [Camera(K=c.K, R=c.R, t=c.t, width=w, height=h) for c in small]
        inv = torch.linspace(1.0 / near, 1.0 / far, self.planes, device=device, dtype=torch.float64)
        ref = feats[0:1].unsqueeze(2).expand(-1, -1, self.planes, -1, -1)  # (1, C, D, h, w)
        total, total_sq = ref.clone(), ref * ref
        for v in range(1, len(images)):
            grid = warp_grid(small[0], small[v], 1.0 / inv, device)  # (D, h, w, 2)
            warped = F.grid_sample(feats[v : v + 1].expand(self.planes, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            warped = warped.permute(1, 0, 2, 3)[None]  # (1, C, D, h, w)
            total = total + warped
            total_sq = total_sq + warped * warped
        n = float(len(images))
        variance = total_sq / n - (total / n) ** 2
        prob = torch.softmax(self.regulariser(variance)[0], dim=0)  # (D, h, w)
        inv_f = inv.float()[:, None, None]
        inv_depth = (prob * inv_f).sum(0)
        index = ((1.0 / near - inv_depth) / ((1.0 / near - 1.0 / far) / (self.planes - 1))).clamp(0, self.planes - 1)
        lo = (index - 1.5).clamp(min=0).floor().long()
        window = torch.stack([(lo + k).clamp(max=self.planes - 1) for k in range(4)])
        confidence = prob.gather(0, window).sum(0).clamp(0, 1)
        return 1.0 / inv_depth, confidence


def load_mvsnet(path: object, device: torch.device | str = "cpu") -> MVSNet:
    """The network saved at ``path`` by ``assets/mvsnet/train_mvsnet.py`` (:mod:`recon.weights`),
    in eval mode on ``device``."""
    from pathlib import Path

    from recon.weights import load_weights

    _, state = load_weights(Path(str(path)), FORMAT, "MVSNet", "train one with assets/mvsnet/train_mvsnet.py")
    net = MVSNet()
    net.load_state_dict(state)
    return net.to(device).eval()


@torch.no_grad()
def mvsnet_depth(net: MVSNet, ref_image: object, ref: Camera, sources: list[tuple[object, Camera]], near: float, far: float) -> object:
    """The reference view's depth and confidence by ``net``, upsampled to the image's size
    (:class:`recon_mvs.planesweep.DepthResult`, the plane sweep's interface)."""
    import numpy as np

    from recon_mvs.planesweep import DepthResult

    device = next(net.parameters()).device
    images = torch.stack([torch.as_tensor(np.asarray(im), dtype=torch.float32, device=device).permute(2, 0, 1) / 255.0 for im in [ref_image, *(s[0] for s in sources)]])
    depth, confidence = net(images, [ref, *(s[1] for s in sources)], near, far)
    size = (ref.height, ref.width)
    inv = F.interpolate((1.0 / depth)[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    conf = F.interpolate(confidence[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return DepthResult((1.0 / inv).cpu().numpy().astype(np.float32), conf.clamp(0, 1).cpu().numpy().astype(np.float32))
