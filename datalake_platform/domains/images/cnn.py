"""The reference architecture's CNN in PyTorch (convolution blocks -> flatten -> dense layers), trained
from streamed minibatches on CUDA when present, else the CPU. No Dagster, no paths."""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from datalake_platform.domains.images.tables import CHANNELS, CLASSES

# CIFAR-10's per-channel mean and standard deviation (of the 50,000 training images).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
ARCHITECTURE = "conv3x3[32,64,128]+bn+relu+maxpool -> flatten -> dense256+dropout0.3 -> dense10"


def build_cnn() -> nn.Sequential:
    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(CHANNELS, 32),
        *block(32, 64),
        *block(64, 128),  # 32x32 -> 16 -> 8 -> 4
        nn.Flatten(),
        nn.Linear(128 * 4 * 4, 256),
        nn.ReLU(inplace=True),
        nn.Dropout(0.3),
        nn.Linear(256, len(CLASSES)),
    )


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} was asked for, but torch sees no CUDA GPU here; use 'auto' or 'cpu'")
    return torch.device(requested)


def to_input(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [n, h, w, c] on any device -> normalized float [n, c, h, w] on `device` (converted there)."""
    x = x.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(MEAN, device=device).view(1, -1, 1, 1)
    std = torch.tensor(STD, device=device).view(1, -1, 1, 1)
    return (x - mean) / std


@dataclass
class Training:
    model: nn.Module
    device: torch.device
    loss_per_epoch: list[float] = field(default_factory=list)
    images: int = 0
    seconds: float = 0.0
    loader_wait_seconds: float = 0.0  # time the step loop waited for the next minibatch
    loader_startup_seconds: float = 0.0  # of which waiting for each epoch's first one (workers starting)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    @property
    def loader_wait_share(self) -> float:
        return self.loader_wait_seconds / self.seconds if self.seconds else 0.0


def train(epochs: Iterable[Iterable[dict]], device: torch.device, learning_rate: float, seed: int) -> Training:
    """One pass of Adam over each epoch's minibatches; the loss per epoch is the mean over its images."""
    torch.manual_seed(seed)
    model = build_cnn().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    result = Training(model, device)
    model.train()
    for batches in epochs:
        total, seen = 0.0, 0
        started = waited = time.perf_counter()
        for batch in batches:
            wait = time.perf_counter() - waited
            result.loader_wait_seconds += wait
            result.loader_startup_seconds += wait if seen == 0 else 0.0
            x, y = to_input(batch["x"], device), batch["y"].to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)  # .item() waits for the device: step times are real
            seen += len(y)
            waited = time.perf_counter()
        result.seconds += time.perf_counter() - started
        result.images += seen
        result.loss_per_epoch.append(total / seen if seen else float("nan"))
    return result


@torch.no_grad()
def predict(model: nn.Module, batches: Iterable[dict], device: torch.device) -> dict[str, list]:
    """image_id, label, prediction and its softmax probability for every image of the batches."""
    model.eval()
    out: dict[str, list] = {"image_id": [], "label": [], "prediction": [], "probability": []}
    for batch in batches:
        probabilities = torch.softmax(model(to_input(batch["x"], device)), dim=1)
        best, predicted = probabilities.max(dim=1)
        out["image_id"] += batch["ids"]
        out["label"] += batch["y"].tolist()
        out["prediction"] += predicted.cpu().tolist()
        out["probability"] += best.cpu().double().tolist()
    return out


def to_bytes(model: nn.Module, spec: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "spec": spec}, buffer)
    return buffer.getvalue()


def from_bytes(data: bytes, device: torch.device) -> nn.Module:
    model = build_cnn()
    model.load_state_dict(torch.load(io.BytesIO(data), map_location=device, weights_only=True)["state_dict"])
    return model.to(device)
