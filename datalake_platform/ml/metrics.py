"""Classification metrics, computed the same way for every model."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.sql import DataFrame


def binary_metrics(scored: DataFrame, label: str = "label") -> dict[str, float | dict]:
    """Accuracy, AUC (ROC), F1 of the positive class and the confusion matrix of an MLlib-scored frame."""
    counts = {(int(r[0]), int(r[1])): r[2] for r in scored.groupBy(label, "prediction").count().collect()}
    tp, tn = counts.get((1, 1), 0), counts.get((0, 0), 0)
    fp, fn = counts.get((0, 1), 0), counts.get((1, 0), 0)
    total = tp + tn + fp + fn
    auc = BinaryClassificationEvaluator(labelCol=label, rawPredictionCol="probability").evaluate(scored)
    return {
        "accuracy": (tp + tn) / total if total else 0.0,
        "auc": auc,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "confusion": {"actual_0": {"pred_0": tn, "pred_1": fp}, "actual_1": {"pred_0": fn, "pred_1": tp}},
        "rows": total,
    }


def confusion_markdown(confusion: Sequence[Sequence[int]], names: Sequence[str]) -> dg.MetadataValue:
    """A confusion matrix (rows = actual, columns = predicted) as a markdown table."""
    head = "| actual \\ predicted | " + " | ".join(names) + " |"
    rule = "|---" * (len(names) + 1) + "|"
    rows = [f"| **{n}** | " + " | ".join(str(v) for v in row) + " |" for n, row in zip(names, confusion)]
    return dg.MetadataValue.md("\n".join([head, rule, *rows]))
