"""A long feature pipeline over the purchases, written once as plain steps (the checkpoint pattern's example).

Iterative per-person enrichment: every step derives feature `f{i}` from the previous one, by one
of six kinds of operation (scale, running sum, lag, deviation from the person's mean through a
join with an aggregate of the frame itself, rank, log). The self-joins make the unbroken lineage
grow fast, as real iterative feature engineering does. Where to checkpoint is not decided here:
see `datalake_platform.spark.checkpoint_planner` and `enrichment_assets`.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from datalake_platform.spark.checkpoint_planner import Step


def _order():
    """Each person's purchases in time order (built lazily: a Window needs a running Spark)."""
    return Window.partitionBy("ID_PERSONA").orderBy("FECHA", "ID_TRANSACCION")


def _base(df: DataFrame) -> DataFrame:
    return df.select("ID_TRANSACCION", "ID_PERSONA", "FECHA", "CANTIDAD", F.col("MONTO").cast("double").alias("f0"))


def _kind(i: int):
    """(name, step) of feature i, from feature i-1. Columns are built when the step runs (they need Spark)."""
    p, out = f"f{i - 1}", f"f{i}"
    kinds = [
        ("scale", lambda df: df.withColumn(out, F.col(p) * 0.5 + F.col("CANTIDAD"))),
        (
            "running_sum",
            lambda df: df.withColumn(out, F.sum(p).over(_order().rowsBetween(Window.unboundedPreceding, 0))),
        ),
        ("lag", lambda df: df.withColumn(out, F.coalesce(F.lag(p).over(_order()), F.lit(0.0)))),
        ("minus_person_mean", lambda df: _minus_person_mean(df, p, out)),
        (
            "rank",
            lambda df: df.withColumn(
                out, F.percent_rank().over(Window.partitionBy("ID_PERSONA").orderBy(p, "ID_TRANSACCION"))
            ),
        ),
        ("log", lambda df: df.withColumn(out, F.log1p(F.abs(F.col(p))))),
    ]
    return kinds[(i - 1) % len(kinds)]


def _minus_person_mean(df: DataFrame, prev: str, out: str) -> DataFrame:
    means = df.groupBy("ID_PERSONA").agg(F.avg(prev).alias("_mean"))
    return df.join(means, "ID_PERSONA").withColumn(out, F.col(prev) - F.col("_mean")).drop("_mean")


def enrichment_steps(n: int) -> list[Step]:
    """`n` steps (n >= 3): `base`, features `f1`..`f{n-2}`, then `collect` (the features as one array)."""
    steps = [Step("s00_base", _base)]
    for i in range(1, n - 1):
        name, fn = _kind(i)
        steps.append(Step(f"s{i:02d}_{name}", fn))
    last = n - 2

    def collect(df):
        return df.select(
            "ID_TRANSACCION",
            "ID_PERSONA",
            "FECHA",
            F.array(*[F.col(f"f{i}") for i in range(1, last + 1)]).alias("features"),
        )

    return steps + [Step(f"s{n - 1:02d}_collect", collect)]


STEPS = 36
ENRICHMENT = enrichment_steps(STEPS)
