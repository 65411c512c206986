"""recon's MVSNet: learned multi-view depth (Yao et al. 2018), small enough to train and run on a
CPU, with a second, finer stage (as in cascade MVSNet, Gu et al. 2020).

1. A 2D CNN turns every view into 16-channel features at a quarter of its size and, with a
   lateral branch, 8-channel features at half its size.
2. Coarse stage: the source views' quarter-size features are warped onto the reference's
   fronto-parallel planes (uniform in inverse depth between near and far,
   :func:`recon_mvs.planesweep.warp_grid`), and their variance across the views is the cost
   volume (16 x planes x H/4 x W/4). A small 3D U-Net regularises it into one score per plane and
   pixel; softmax over the planes; depth is the expectation of inverse depth (soft argmin).
3. Fine stage: at half size, 16 hypotheses per pixel spread over four coarse plane spacings
   around the coarse depth (upsampled, not differentiated through), the same variance cost on
   the half-size features, a second 3D U-Net, soft argmin again.
4. Confidence: the probability within two hypotheses of the estimate (MVSNet's), fine stage's
   times coarse stage's.

Batch normalisation always uses the statistics of the views at hand (no running averages: cost
volumes differ too much from scene to scene for them), so training and inference normalise alike.
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
    """Quarter-size ``channels`` features and half-size ``fine`` features of (V, 3, H, W) images."""

    HALF = 3  # the layer of ``net`` whose output is at half size

    def __init__(self, channels: int = 16, fine: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(3, 8), _conv(8, 8), _conv(8, 16, 2), _conv(16, 16), _conv(16, 32, 2), _conv(32, 32), nn.Conv2d(32, channels, 3, 1, 1))
        self.lateral = nn.Conv2d(16, fine, 1)
        self.top = nn.Conv2d(channels, fine, 1)
        self.fine = nn.Sequential(_conv(fine, fine), nn.Conv2d(fine, fine, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for k, layer in enumerate(self.net):
            x = layer(x)
            if k == self.HALF:
                half = x
        top = F.interpolate(self.top(x), size=half.shape[-2:], mode="bilinear", align_corners=False)
        return x, self.fine(self.lateral(half) + top)


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
    FINE_PLANES = 16
    FINE_SPAN = 4.0  # the fine hypotheses cover this many coarse plane spacings

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False):  # noqa: ANN201
        """As nn.Module's, ignoring the running averages an older checkpoint may hold."""
        unused = ("running_mean", "running_var", "num_batches_tracked")
        return super().load_state_dict({k: v for k, v in state_dict.items() if not k.endswith(unused)}, strict, assign)

    def __init__(self, channels: int = 16, planes: int = 48, fine: int = 8) -> None:
        super().__init__()
        self.planes = planes
        self.features = Features(channels, fine)
        self.regulariser = Regulariser(channels)
        self.fine_regulariser = Regulariser(fine)

    def forward(self, images: torch.Tensor, cameras: list[Camera], near: float, far: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Depth and confidence (H/2, W/2) of view 0 of ``images`` (V, 3, H, W, in [0, 1]) seen by
        ``cameras`` (at the images' size), between ``near`` and ``far`` metres."""
        return self.stages(images, cameras, near, far)[-1]

    def stages(self, images: torch.Tensor, cameras: list[Camera], near: float, far: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(depth, confidence) of the coarse (H/4, W/4) and the fine (H/2, W/2) stage."""
        device = images.device
        coarse_feats, fine_feats = self.features(images * 2.0 - 1.0)
        inv = torch.linspace(1.0 / near, 1.0 / far, self.planes, device=device, dtype=torch.float64)
        step = (1.0 / near - 1.0 / far) / (self.planes - 1)
        coarse_cams = _cameras_at(cameras, coarse_feats, images)
        volume = _variance(coarse_feats, coarse_cams, (1.0 / inv)[:, None, None].expand(-1, *coarse_feats.shape[-2:]))
        prob = torch.softmax(self.regulariser(volume)[0], dim=0)  # (D, h, w)
        hyps = inv.float()[:, None, None].expand_as(prob)
        inv_coarse = (prob * hyps).sum(0)
        conf_coarse = _confidence(prob, (1.0 / near - inv_coarse) / step)
        # fine stage around the coarse estimate
        fine_cams = _cameras_at(cameras, fine_feats, images)
        size = fine_feats.shape[-2:]
        centre = F.interpolate(inv_coarse.detach()[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
        fine_step = step * self.FINE_SPAN / (self.FINE_PLANES - 1)
        offsets = (torch.arange(self.FINE_PLANES, device=device, dtype=torch.float32) - (self.FINE_PLANES - 1) / 2) * fine_step
        lowest = (centre - offsets[-1]).clamp(1.0 / far, 1.0 / near - 2 * offsets[-1])  # keep every hypothesis in range
        fine_hyps = lowest[None] + (offsets - offsets[0])[:, None, None]  # (F, H/2, W/2), increasing inverse depth
        volume = _variance(fine_feats, fine_cams, 1.0 / fine_hyps)
        prob = torch.softmax(self.fine_regulariser(volume)[0], dim=0)
        inv_fine = (prob * fine_hyps).sum(0)
        conf_fine = _confidence(prob, (inv_fine - fine_hyps[0]) / fine_step)
        conf_up = F.interpolate(conf_coarse[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
        return [(1.0 / inv_coarse, conf_coarse), (1.0 / inv_fine, (conf_fine * conf_up).clamp(0, 1))]


def _cameras_at(cameras: list[Camera], feats: torch.Tensor, images: torch.Tensor) -> list[Camera]:
    """The cameras at the size of ``feats`` (feature maps of ``images``)."""
    from recon.cameras import scale_camera

    h, w = feats.shape[-2:]
    scaled = [scale_camera(c, w / images.shape[-1]) for c in cameras]
    return [Camera(K=c.K, R=c.R, t=c.t, width=w, height=h) for c in scaled]


def _variance(feats: torch.Tensor, cameras: list[Camera], depth: torch.Tensor) -> torch.Tensor:
    """(1, C, D, h, w) variance across the views of the features warped onto the reference's
    per-pixel ``depth`` hypotheses (D, h, w)."""
    n_hyp = depth.shape[0]
    ref = feats[0:1].unsqueeze(2).expand(-1, -1, n_hyp, -1, -1)  # (1, C, D, h, w)
    total, total_sq = ref.clone(), ref * ref
    for v in range(1, len(feats)):
        grid = warp_grid(cameras[0], cameras[v], depth, feats.device)  # (D, h, w, 2)
        warped = F.grid_sample(feats[v : v + 1].expand(n_hyp, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        warped = warped.permute(1, 0, 2, 3)[None]
        total = total + warped
        total_sq = total_sq + warped * warped
    n = float(len(feats))
    return total_sq / n - (total / n) ** 2


def _confidence(prob: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The probability within two hypotheses of the fractional hypothesis ``index`` (h, w)."""
    count = prob.shape[0]
    index = index.clamp(0, count - 1)
    lo = (index - 1.5).clamp(min=0).floor().long()
    window = torch.stack([(lo + k).clamp(max=count - 1) for k in range(4)])
    return prob.gather(0, window).sum(0).clamp(0, 1)


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
    (:class:`recon_mvs.planesweep.DepthResult`, the plane sweep's interface); the network runs in
    bfloat16 on CPUs that compute it natively (:func:`recon.device.fast_inference`)."""
    import numpy as np

    from recon.device import fast_inference
    from recon_mvs.planesweep import DepthResult

    device = next(net.parameters()).device
    images = torch.stack([torch.as_tensor(np.array(im, dtype=np.float32), device=device).permute(2, 0, 1) / 255.0 for im in [ref_image, *(s[0] for s in sources)]])
    with fast_inference(device):  # bfloat16 where the CPU has it: 2.5x faster here, the same depth scores
        depth, confidence = net(images, [ref, *(s[1] for s in sources)], near, far)
    depth, confidence = depth.float(), confidence.float()
    size = (ref.height, ref.width)
    inv = F.interpolate((1.0 / depth)[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    conf = F.interpolate(confidence[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return DepthResult((1.0 / inv).cpu().numpy().astype(np.float32), conf.clamp(0, 1).cpu().numpy().astype(np.float32))
