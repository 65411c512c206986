"""Occupancy networks: ``f(x) -> logit`` of being inside (occupancy probability = sigmoid).

- :class:`FitNetwork` (fit mode, one cloud): multi-resolution dense feature grids, trilinearly
  interpolated, concatenated with the coordinates and decoded by a small MLP (a local-feature
  occupancy network in the spirit of convolutional occupancy networks, Peng et al. 2020, with the
  features optimised directly). Trains in seconds on a CPU.
- :class:`PriorNetwork` (prior mode): after Mescheder et al. 2019. A PointNet encoder (the very
  module of ``recon.pointnet`` that ``recon_pointnet`` classifies with) maps the cloud to a
  Gaussian latent ``q(z | cloud)``; a decoder
  ``f(x, z)`` of residual blocks, conditioned on ``z`` by FiLM (feature-wise scale and shift, in
  place of the paper's conditional batch norm) on Fourier features of ``x``, gives the logit.
  Trained on procedural shapes by ``assets/occupancy/train_prior.py``.

Coordinates are in the normalised frame: the cloud's bounding box centred, longest side 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from recon_occupancy.supervision import PAD

DOMAIN = 0.5 + PAD


@dataclass(frozen=True)
class FitConfig:
    """Architecture of :class:`FitNetwork`: ``levels`` as (resolution, channels) pairs."""

    levels: tuple[tuple[int, int], ...] = ((16, 8), (32, 8), (96, 4))
    hidden: int = 64
    layers: int = 2

    def as_dict(self) -> dict:
        return asdict(self)


class FitNetwork(nn.Module):
    """Feature grids over the padded unit cube + an MLP decoder; ``forward(x (N, 3)) -> logits (N,)``."""

    def __init__(self, config: FitConfig = FitConfig()) -> None:
        super().__init__()
        self.config = config
        self.grids = nn.ParameterList(
            [nn.Parameter(1e-2 * torch.randn(1, c, r + 1, r + 1, r + 1)) for r, c in config.levels]
        )
        width = sum(c for _, c in config.levels) + 3
        layers: list[nn.Module] = []
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.Softplus(beta=10)]
            width = config.hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        g = (x / DOMAIN).clamp(-1, 1)[None, :, None, None, :]  # grid_sample wants (x, y, z) -> (W, H, D)
        feats = [F.grid_sample(grid, g, mode="bilinear", align_corners=True)[0, :, :, 0, 0].T for grid in self.grids]
        return torch.cat([*feats, x], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(x))[:, 0]


def grid_tensor_layout(volume: torch.Tensor) -> torch.Tensor:
    """(X, Y, Z) volume -> grid_sample's (1, 1, D=Z, H=Y, W=X) layout."""
    return volume.permute(2, 1, 0)[None, None]


@dataclass(frozen=True)
class PriorConfig:
    """Architecture of :class:`PriorNetwork`."""

    latent: int = 64
    hidden: int = 96
    blocks: int = 3
    frequencies: int = 5
    local_k: int = 8
    local_width: int = 32
    encoder: dict = field(default_factory=lambda: {"global_dim": 256, "input_transform": False, "feature_transform": True})

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PriorConfig:
        return cls(**d)


class _FiLMBlock(nn.Module):
    def __init__(self, hidden: int, latent: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.film = nn.Linear(latent, 4 * hidden)

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        g1, b1, g2, b2 = self.film(z).chunk(4, dim=-1)
        y = self.fc1(F.relu(h * (1 + g1) + b1))
        y = self.fc2(F.relu(y * (1 + g2) + b2))
        return h + y


class PriorNetwork(nn.Module):
    """PointNet encoder -> latent (mean, log-variance) -> FiLM-conditioned occupancy decoder.

    ``encode(points (B, N, 3)) -> Code`` (the Gaussian latent and, with ``config.local_k`` > 0, the
    encoder's per-point features); ``decode(x (B, M, 3), z (B, L), code) -> logits (B, M)``.

    Besides the global code, each query pools (max) a small MLP of the per-point features and
    offsets of its ``local_k`` nearest input points: a global latent alone gives blobs, the local
    pooling lets thin parts (legs, wings) through at little cost.
    """

    def __init__(self, config: PriorConfig = PriorConfig()) -> None:
        super().__init__()
        from recon.pointnet import EncoderConfig, PointNetEncoder

        self.config = config
        enc = EncoderConfig.from_dict(config.encoder)
        self.encoder = PointNetEncoder(enc)
        self.to_latent = nn.Linear(enc.global_dim, 2 * config.latent)
        with torch.no_grad():  # start with little sampling noise, so the decoder can use z early
            self.to_latent.bias[config.latent :] = -6.0
        in_dim = 3 + 6 * config.frequencies
        if config.local_k > 0:
            self.local = nn.Sequential(nn.Linear(64 + 3, config.local_width), nn.ReLU(), nn.Linear(config.local_width, config.local_width))
            in_dim += config.local_width
        self.inp = nn.Linear(in_dim, config.hidden)
        self.blocks = nn.ModuleList([_FiLMBlock(config.hidden, config.latent) for _ in range(config.blocks)])
        self.out = nn.Linear(config.hidden, 1)
        self.register_buffer("freqs", (2.0 ** torch.arange(config.frequencies)) * torch.pi, persistent=False)

    def encode(self, points: torch.Tensor) -> Code:
        glob, local, _ = self.encoder(points)
        mu, logvar = self.to_latent(glob).chunk(2, dim=-1)
        return Code(mu, logvar.clamp(-10, 4), points, local.transpose(1, 2))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        xf = x[..., None] * self.freqs
        return torch.cat([x, torch.sin(xf).flatten(-2), torch.cos(xf).flatten(-2)], dim=-1)

    def pool_local(self, x: torch.Tensor, code: Code) -> torch.Tensor:
        """(B, M, local_width): max over the nearest input points of MLP(feature, offset * 10)."""
        k = min(self.config.local_k, code.points.shape[1])
        idx = torch.cdist(x, code.points).topk(k, dim=2, largest=False).indices  # (B, M, k)
        b = torch.arange(x.shape[0], device=x.device)[:, None, None]
        offsets = (x[:, :, None, :] - code.points[b, idx]) * 10.0
        feats = torch.cat([code.features[b, idx], offsets], dim=-1)
        return self.local(feats).amax(dim=2)

    def decode(self, x: torch.Tensor, z: torch.Tensor, code: Code | None = None) -> torch.Tensor:
        h = self.embed(x)
        if self.config.local_k > 0:
            if code is None:
                raise ValueError("this prior pools local features: pass the Code from encode()")
            h = torch.cat([h, self.pool_local(x, code)], dim=-1)
        h = self.inp(h)
        zz = z[:, None, :]
        for block in self.blocks:
            h = block(h, zz)
        return self.out(F.relu(h))[..., 0]


@dataclass
class Code:
    """What the prior's encoder says about a cloud: the latent Gaussian, and the points with their
    per-point features (B, N, 64) for local pooling."""

    mu: torch.Tensor
    logvar: torch.Tensor
    points: torch.Tensor
    features: torch.Tensor
