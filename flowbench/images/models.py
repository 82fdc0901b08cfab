"""Networks of the image stage: GLF's deterministic auto-encoder and two plain classifiers.

- :class:`AutoEncoder`: the auto-encoder of GLF (Xiao, Yan & Amit 2019b, arXiv 1905.10485), whose
  20-d latent the seed paper's flow models (Xiao et al. 2019, Sec. 5.2). Encoder
  Conv(1->64,k4,s2,p1)-ReLU-Conv(64->128,k4,s2,p1)-BN-ReLU-FC(6272->1024)-BN-ReLU-FC(1024->20);
  decoder (InfoGAN generator) FC(20->1024)-BN-ReLU-FC(1024->6272)-BN-ReLU-
  ConvT(128->64,k4,s2,p1)-BN-ReLU-ConvT(64->1,k4,s2,p1)-Tanh, output ``0.5 * out + 0.5`` in [0, 1].
  Conv and linear weights are drawn from N(0, 0.02), biases zero.
- :class:`LatentClassifier`: a plain reference classifier on the same latents (Table 1 context).
- :class:`SmallCNN`: an independent classifier of real images, used to score generated images.

Images are ``float32 [N, 1, 28, 28]`` with pixels in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn

IMAGE_SHAPE = (1, 28, 28)


def init_normal_002(module: nn.Module) -> None:
    """GLF / InfoGAN init: conv and linear weights ~ N(0, 0.02), biases 0 (BN keeps 1 / 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Encoder(nn.Module):
    def __init__(self, latent_dim: int = 20):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.ReLU())
        self.fc = nn.Sequential(
            nn.Linear(128 * 7 * 7, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
            nn.Linear(1024, latent_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


class Decoder(nn.Module):
    def __init__(self, latent_dim: int = 20):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
            nn.Linear(1024, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        h = self.fc(u).view(-1, 128, 7, 7)
        return 0.5 * self.deconv(h) + 0.5


class AutoEncoder(nn.Module):
    """``encode: [N,1,28,28] -> [N,latent]``, ``decode: [N,latent] -> [N,1,28,28]`` in [0, 1]."""

    def __init__(self, latent_dim: int = 20):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.encoder = Encoder(self.latent_dim)
        self.decoder = Decoder(self.latent_dim)
        init_normal_002(self)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, u):
        return self.decoder(u)

    def forward(self, x):
        return self.decode(self.encode(x))


def ae_loss(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """GLF's reconstruction loss: squared error summed over pixels, averaged over the batch."""
    return (recon - x).pow(2).sum() / x.shape[0]


class LatentClassifier(nn.Module):
    """``hidden=0``: multinomial logistic regression; otherwise one hidden ReLU layer."""

    def __init__(self, in_dim: int, n_classes: int = 10, hidden: int = 0):
        super().__init__()
        if hidden > 0:
            self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
        else:
            self.net = nn.Linear(in_dim, n_classes)

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    """Conv(1->32,k3)-ReLU-MaxPool-Conv(32->64,k3)-ReLU-MaxPool-FC(3136->128)-ReLU-FC(128->10)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, n_classes))

    def forward(self, x):
        return self.net(x)
