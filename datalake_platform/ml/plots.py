"""Training curves as images the Dagster UI shows inline (markdown with a base64 PNG)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import dagster as dg


def curve_markdown(values: Sequence[float], title: str, xlabel: str, ylabel: str = "loss") -> dg.MetadataValue:
    import matplotlib

    matplotlib.use("Agg")  # no display in a run worker
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) <= 50 else None)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    png = base64.b64encode(buf.getvalue()).decode()
    listed = ", ".join(f"{v:.4f}" for v in values[:20]) + (" ..." if len(values) > 20 else "")
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{png})\n\n{ylabel} per {xlabel}: {listed}")
