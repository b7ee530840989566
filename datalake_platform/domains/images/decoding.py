"""One image file's bytes -> its RGB pixels or the reason it cannot be a tensor. Pillow only: no Spark,
so the same decoder runs in Spark's Python workers and in Spark-free tools (benchmarks/ml/gpu.py)."""

from __future__ import annotations

import io

from datalake_platform.domains.images.tables import CHANNELS, HEIGHT, WIDTH


def decode_image(data: bytes) -> dict:
    """The image's RGB pixels as [height, width, channel] bytes, or the reason it cannot be one."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode == "P" and "transparency" not in image.info:
                image = image.convert("RGB")  # a palette of RGB colours is still an RGB image
            shape = {"height": image.height, "width": image.width, "channels": len(image.getbands())}
            if (image.width, image.height) != (WIDTH, HEIGHT):
                return {
                    "reason": "wrong_size",
                    "detail": f"{image.width}x{image.height}, expected {WIDTH}x{HEIGHT}",
                    **shape,
                }
            if image.mode != "RGB":
                return {
                    "reason": "wrong_channels",
                    "detail": f"mode {image.mode}: {shape['channels']} channel(s)",
                    **shape,
                }
            return {"reason": None, "detail": None, "tensor": image.tobytes(), **shape}
    except Exception as err:  # any decoder error is a property of the file, never a reason to fail the run
        return {"reason": "undecodable", "detail": f"{type(err).__name__}: {err}"[:300]}


assert CHANNELS == 3  # decode_image keeps RGB only
