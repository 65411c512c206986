"""PointNet (Qi et al. 2017): a shared per-point MLP, learned input and feature transforms
(T-nets), global max pooling for order invariance; a classification head and a part-segmentation
head on top of the same encoder.

In the core because two plugins build on it: ``recon_pointnet`` (the classifier, ``recon classify``)
and ``recon_occupancy`` (:class:`PointNetEncoder` is its prior's encoder).
Widths are slimmer than the paper's (global feature 256 instead of 1024) so the shipped weights
stay small and train in CPU minutes; every width is a constructor argument.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


def _conv(widths: list[int], last_act: bool = True) -> nn.Sequential:
    """Shared per-point MLP as 1x1 convolutions over (B, C, N), with BatchNorm and ReLU."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers += [nn.Conv1d(a, b, 1), nn.BatchNorm1d(b)]
        if last_act or i < len(widths) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _fc(widths: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TNet(nn.Module):
    """Predicts a (k, k) transform from the points themselves; starts at the identity."""

    def __init__(self, k: int, widths: tuple[int, ...] = (64, 128, 256), fc: tuple[int, ...] = (128, 64)) -> None:
        super().__init__()
        self.k = k
        self.features = _conv([k, *widths])
        self.fc = _fc([widths[-1], *fc])
        self.out = nn.Linear(fc[-1], k * k)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, k, N) -> (B, k, k)."""
        g = self.features(x).amax(dim=2)
        eye = torch.eye(self.k, device=x.device, dtype=x.dtype)
        return self.out(self.fc(g)).view(-1, self.k, self.k) + eye


@dataclass(frozen=True)
class EncoderConfig:
    """Widths of :class:`PointNetEncoder`; stored in checkpoints."""

    global_dim: int = 256
    input_transform: bool = True
    feature_transform: bool = True
    tnet_widths: tuple[int, ...] = (64, 128, 256)
    tnet_fc: tuple[int, ...] = (128, 64)
    canonical_turn: bool = False  # turn each Y-up cloud about Y to its own horizontal axes first (canonical_turns)

    @classmethod
    def from_dict(cls, d: dict) -> EncoderConfig:
        d = dict(d)
        for key in ("tnet_widths", "tnet_fc"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def canonical_turns(points: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) turns about Y (row vectors: ``points @ R``) that bring each Y-up cloud of
    ``points`` (B, N, 3) to its own horizontal frame: its main horizontal direction (the leading
    eigenvector of the X-Z covariance) onto +X, pointing to the side with the longer tail (positive
    third moment along it). A cloud turned about Y by any angle comes out the same, so a network
    behind this needs no rotation votes; the axis is ill-defined for shapes round in plan (then
    any turn is as good) and flips between near-equal axes for square ones. Points that repeat the
    first one (how point dropout fills a cloud) count once."""
    xz = points[..., [0, 2]].double()
    weight = (xz != xz[:, :1]).any(dim=-1).double()
    weight[:, 0] = 1.0
    weight = weight / weight.sum(dim=1, keepdim=True)
    xz = xz - (weight[..., None] * xz).sum(dim=1, keepdim=True)
    cov = (weight[..., None] * xz).transpose(1, 2) @ xz
    axis = torch.linalg.eigh(cov)[1][..., 1]  # (B, 2): eigenvalues ascend, the last is the main one
    tail = (weight * (xz @ axis[..., None])[..., 0] ** 3).sum(dim=1)
    axis = axis * torch.where(tail < 0, -1.0, 1.0).to(axis)[:, None]
    c, s = axis[:, 0], -axis[:, 1]  # (x, z) = axis goes to (1, 0): x' = x c - z s, z' = x s + z c
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=1).view(-1, 3, 3).to(points.dtype)


class PointNetEncoder(nn.Module):
    """Points (B, N, 3) -> global feature (B, D), per-point features (B, 64, N), feature transform.

    Order invariant (max pooling) and, through the input T-net, largely pose-normalising.
    """

    def __init__(self, config: EncoderConfig = EncoderConfig()) -> None:
        super().__init__()
        self.config = config
        self.input_tnet = TNet(3, config.tnet_widths, config.tnet_fc) if config.input_transform else None
        self.mlp1 = _conv([3, 64, 64])
        self.feature_tnet = TNet(64, config.tnet_widths, config.tnet_fc) if config.feature_transform else None
        self.mlp2 = _conv([64, 64, 128, config.global_dim], last_act=False)

    @property
    def global_dim(self) -> int:
        return self.config.global_dim

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if self.config.canonical_turn:
            points = points @ canonical_turns(points)
        x = points.transpose(1, 2)  # (B, 3, N)
        if self.input_tnet is not None:
            x = torch.bmm(self.input_tnet(x).transpose(1, 2), x)
        local = self.mlp1(x)
        trans_feat = None
        if self.feature_tnet is not None:
            trans_feat = self.feature_tnet(local)
            local = torch.bmm(trans_feat.transpose(1, 2), local)
        glob = self.mlp2(local).amax(dim=2)
        return glob, local, trans_feat


def feature_transform_regularizer(trans: torch.Tensor | None) -> torch.Tensor:
    """||I - A A^T||_F^2 averaged over the batch (keeps the 64x64 transform near orthogonal)."""
    if trans is None:
        return torch.zeros(())
    eye = torch.eye(trans.shape[1], device=trans.device, dtype=trans.dtype)
    return ((torch.bmm(trans, trans.transpose(1, 2)) - eye) ** 2).sum(dim=(1, 2)).mean()


class PointNet(nn.Module):
    """Classifier (and optional part segmenter) over a :class:`PointNetEncoder`.

    :param num_classes: size of the class head.
    :param num_parts: size of the per-point part head; 0 for none.
    :param head: widths of the hidden layers of the class head (stored in checkpoints).
    :param dropout: dropout after each hidden layer of the class head while training.
    """

    def __init__(
        self, num_classes: int, num_parts: int = 0, encoder: EncoderConfig = EncoderConfig(), dropout: float = 0.3,
        head: tuple[int, ...] = (128, 64),
    ) -> None:
        super().__init__()
        self.encoder = PointNetEncoder(encoder)
        d = encoder.global_dim
        self.head_widths = tuple(int(w) for w in head)
        self.head = nn.Sequential(_fc([d, *self.head_widths], dropout), nn.Linear(self.head_widths[-1], num_classes))
        self.num_parts = num_parts
        self.seg = nn.Sequential(_conv([64 + d, 128, 64]), nn.Conv1d(64, num_parts, 1)) if num_parts else None

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(B, N, 3) -> class logits (B, C), part logits (B, P, N) or None, feature transform."""
        glob, local, trans = self.encoder(points)
        logits = self.head(glob)
        parts = None
        if self.seg is not None:
            n = local.shape[2]
            parts = self.seg(torch.cat([local, glob[:, :, None].expand(-1, -1, n)], dim=1))
        return logits, parts, trans


def parameter_count(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def fused_for_inference(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every Conv1d/Linear followed by BatchNorm1d folded
    into one layer (the same outputs to float rounding, about a quarter faster on the CPU).
    For inference only: its state dict no longer matches the checkpoint's."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    fused = copy.deepcopy(model).eval()
    for seq in fused.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        items = list(seq._modules.items())
        for (name_a, a), (name_b, b) in zip(items[:-1], items[1:]):
            if isinstance(b, nn.BatchNorm1d) and isinstance(a, (nn.Conv1d, nn.Linear)):
                seq._modules[name_a] = fuse_conv_bn_eval(a, b) if isinstance(a, nn.Conv1d) else fuse_linear_bn_eval(a, b)
                seq._modules[name_b] = nn.Identity()
    return fused
