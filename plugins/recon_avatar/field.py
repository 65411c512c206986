"""The avatar's radiance field: tri-plane features of the canonical head (``grid_sample``, pure
PyTorch), a code of the 51 ARKit weights, and a small MLP giving density and colour; and the
volume rendering of shell rays through it.

Coarse to fine: the planes start small and are upsampled (bilinearly) during training, so the
first steps learn the head's overall shape and colour and the later ones its detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

SIGMA_PER_M = 1000.0  # density unit: the network's softplus output is opacity per millimetre


@dataclass(frozen=True)
class FieldSettings:
    channels: int = 16
    hidden: int = 64
    code: int = 16
    weights: int = 51


class AvatarField(nn.Module):
    """Density and colour at canonical points (metres, inside ``low``..``high``) under an expression."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor, resolution: int, settings: FieldSettings = FieldSettings()) -> None:
        super().__init__()
        self.settings = settings
        c, h = settings.channels, settings.hidden
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32).clone())
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32).clone())
        self.planes = nn.Parameter(0.1 * torch.randn(3, c, resolution, resolution))
        self.code = nn.Linear(settings.weights, settings.code)
        self.trunk = nn.Sequential(nn.Linear(3 * c + settings.code, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.density = nn.Linear(h, 1)
        self.colour = nn.Sequential(nn.Linear(h + 3, h // 2), nn.ReLU(), nn.Linear(h // 2, 3))
        with torch.no_grad():
            self.density.bias.fill_(-3.0)  # nearly empty at the start: the plate shows through

    @property
    def resolution(self) -> int:
        return int(self.planes.shape[-1])

    def upsample(self, resolution: int) -> None:
        """Resample the planes to ``resolution`` (a new parameter: rebuild the optimizer)."""
        with torch.no_grad():
            planes = F.interpolate(self.planes.data, size=(resolution, resolution), mode="bilinear", align_corners=True)
        self.planes = nn.Parameter(planes)

    def features(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 3 * channels) plane features at (N, 3) canonical points."""
        u = 2.0 * (points - self.low) / (self.high - self.low) - 1.0
        grid = torch.stack([u[:, [0, 1]], u[:, [0, 2]], u[:, [1, 2]]])[:, None]  # (3, 1, N, 2)
        f = F.grid_sample(self.planes, grid, mode="bilinear", padding_mode="border", align_corners=True)  # (3, C, 1, N)
        return f[:, :, 0].permute(2, 0, 1).reshape(len(points), -1)

    def forward(self, points: torch.Tensor, code: torch.Tensor, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,) density per metre and (N, 3) colour in [0, 1] at ``points`` with per-point
        expression ``code`` (N, code) and view ``directions`` (N, 3, canonical)."""
        h = self.trunk(torch.cat([self.features(points), code], dim=1))
        sigma = F.softplus(self.density(h)[:, 0]) * SIGMA_PER_M
        rgb = torch.sigmoid(self.colour(torch.cat([h, directions], dim=1)))
        return sigma, rgb

    def total_variation(self) -> torch.Tensor:
        """Mean squared difference of neighbouring plane texels (smooth where the views are few)."""
        p = self.planes
        return ((p[..., 1:, :] - p[..., :-1, :]) ** 2).mean() + ((p[..., :, 1:] - p[..., :, :-1]) ** 2).mean()


def render_rays(
    field: AvatarField,
    rays: dict[str, torch.Tensor],
    weights: torch.Tensor,
    samples: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour (R, 3) and opacity (R,) of shell rays (:class:`recon_avatar.shell.ShellRays` as
    tensors) with per-ray expression ``weights`` (R, 51): ``samples`` points per ray between
    ``near`` and ``far``, jittered within their bins when a ``generator`` is given (training),
    at the bins' centres otherwise."""
    n = len(weights)
    near, far = rays["near"][:, None], rays["far"][:, None]
    bins = torch.arange(samples, dtype=near.dtype, device=near.device)[None]
    offset = torch.rand((n, samples), generator=generator, device=near.device) if generator is not None else torch.full((n, samples), 0.5, device=near.device)
    step = (far - near) / samples
    s = near + (bins + offset) * step  # (R, S) distances along the rays
    # mesh-anchored map: undo the expression's displacement, blended from the entry to the mesh
    span = (rays["core"] - rays["near"]).clamp(min=1e-6)[:, None]
    a = ((s - near) / span).clamp(0.0, 1.0)[..., None]
    disp = rays["disp_near"][:, None] * (1 - a) + rays["disp_core"][:, None] * a
    points = rays["origin"][:, None] + s[..., None] * rays["direction"][:, None] - disp
    code = field.code(weights)
    sigma, rgb = field(
        points.reshape(-1, 3),
        code[:, None].expand(n, samples, -1).reshape(n * samples, -1),
        rays["direction"][:, None].expand(n, samples, 3).reshape(-1, 3),
    )
    alpha = 1.0 - torch.exp(-sigma.reshape(n, samples) * step)
    transmit = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha[:, :-1] + 1e-10], dim=1), dim=1)
    w = alpha * transmit
    return (w[..., None] * rgb.reshape(n, samples, 3)).sum(1), w.sum(1)
