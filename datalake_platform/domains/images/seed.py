"""Seed landing with the bundled CIFAR-10 sample, and generate labelled images for scale.

The 20 real images are copied as they are, one folder per class. The generator writes N more
32x32 RGB PNGs, each a random variation of one real image (flip, shift, brightness, noise)
that keeps its label: a labelled set of any size for the pipeline and the CNN, deterministic
in (seed, index) so re-running it rewrites nothing. It is scale, not new information: only
the 8 classes present in the sample (no bird, no deer) appear, and accuracy on it says the
pipeline learns, not how well a CNN does on CIFAR-10.

    python -m datalake_platform.domains.images.seed --count 500000   # into DATALAKE_ROOT
"""

from __future__ import annotations

import argparse
import io
import os
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from importlib.resources import files

import numpy as np

from datalake_platform.domains.images.tables import CLASSES, LANDING_IMAGES
from datalake_platform.lake.storage import LakeStorage
from datalake_platform.registry import SeedResult
from datalake_platform.settings import Settings

SAMPLE = files("datalake_platform.domains.images") / "sample_data"
CHUNK = 5000  # images per generator task


def real_images() -> list[tuple[str, int, bytes]]:
    """(file name, label, PNG bytes) of the vendored sample; the label is the name's last number."""
    out = []
    for item in sorted(SAMPLE.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".png"):
            out.append((item.name, int(item.name.rsplit("_", 1)[1].split(".")[0]), item.read_bytes()))
    return out


def landing_uri(storage: LakeStorage, label: int, name: str) -> str:
    return f"{storage.table_uri(LANDING_IMAGES)}/{CLASSES[label]}/{name}"


@cache
def _pixels() -> list[tuple[int, np.ndarray]]:
    from PIL import Image

    return [(label, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))) for _, label, data in real_images()]


def variation(seed: int, index: int) -> tuple[int, bytes]:
    """The generated image number `index`: (label, PNG bytes), the same for the same (seed, index)."""
    from PIL import Image

    rng = np.random.default_rng([seed, index])
    label, pixels = _pixels()[int(rng.integers(len(_pixels())))]
    img = pixels[:, ::-1] if rng.random() < 0.5 else pixels
    dy, dx = rng.integers(-3, 4, size=2)
    img = np.roll(np.pad(img, ((3, 3), (3, 3), (0, 0)), mode="reflect"), (int(dy), int(dx)), axis=(0, 1))[3:35, 3:35]
    img = img.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.normal(0, 6, img.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(buffer, format="PNG")
    return label, buffer.getvalue()


def _generate_chunk(storage: LakeStorage, seed: int, start: int, stop: int) -> tuple[int, int]:
    written = 0
    for index in range(start, stop):
        label, data = variation(seed, index)
        written += storage.write_bytes(landing_uri(storage, label, f"gen-{seed}-{index:07d}.png"), data)
    return written, stop - start - written


def generate(storage: LakeStorage, count: int, seed: int = 0, workers: int = 1) -> SeedResult:
    """Write `count` generated images into landing (in `workers` processes for large counts)."""
    result = SeedResult(table=f"{LANDING_IMAGES} (generated)")
    chunks = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            done = list(pool.map(_generate_chunk, *zip(*[(storage, seed, a, b) for a, b in chunks])))
    else:
        done = [_generate_chunk(storage, seed, a, b) for a, b in chunks]
    for written, unchanged in done:
        result.files_written += written
        result.files_unchanged += unchanged
        result.rows += written + unchanged
    return result


def seed(storage: LakeStorage, settings: Settings | None = None, generated: int | None = None) -> list[SeedResult]:
    """The 20 real images, and `generated` variations of them (`DATALAKE_IMAGES_GENERATED`, 1000 by default)."""
    generated = generated if generated is not None else (settings or Settings()).images_generated
    result = SeedResult(table=str(LANDING_IMAGES))
    for name, label, data in real_images():
        result.add(storage.write_bytes(landing_uri(storage, label, name), data), 1)
    extra = generate(storage, generated)
    result.files_written += extra.files_written
    result.files_unchanged += extra.files_unchanged
    result.rows += extra.rows
    return [result]


def main() -> None:
    from datalake_platform import settings
    from datalake_platform.lake.backends import storage_for_root

    parser = argparse.ArgumentParser(description="Generate labelled 32x32 RGB images into the lake's landing zone.")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    storage = storage_for_root(settings.current().lake_root)
    print(generate(storage, args.count, args.seed, args.workers), "under", storage.table_uri(LANDING_IMAGES))


if __name__ == "__main__":
    main()
