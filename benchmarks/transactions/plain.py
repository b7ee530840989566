"""(a) The reference architecture's report by person, written the plain way: nothing but pyspark.

    .venv/bin/python benchmarks/transactions/plain.py LANDING_FOLDER OUT_FOLDER [DRIVER_MEMORY]

Reads the landing CSVs, types the columns, writes universal parquet partitioned by `dt`, reads it
back, sums MONTO by person, writes parquet; prints the persons. bench.py runs `run` in its own
session, and this file as a fresh process (`--fresh`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

LANDING_SCHEMA = "customer_id string, date string, number_of_cds string, dollar_value string, dt string"


def run(spark: SparkSession, landing: str, out: Path) -> int:
    shutil.rmtree(out, ignore_errors=True)
    raw = spark.read.option("header", True).schema(LANDING_SCHEMA).csv(landing)
    universal = raw.select(
        F.col("customer_id").alias("ID_PERSONA"),
        F.to_date("date", "yyyyMMdd").alias("FECHA"),
        F.col("number_of_cds").cast("int").alias("CANTIDAD"),
        F.col("dollar_value").cast("decimal(12,2)").alias("MONTO"),
        "dt",
    )
    universal.write.mode("overwrite").partitionBy("dt").parquet(str(out / "universal"))
    report = (
        spark.read.parquet(str(out / "universal"))
        .groupBy("ID_PERSONA")
        .agg(F.sum("MONTO").alias("MONTO_TRANSACCIONES"))
    )
    report.write.mode("overwrite").parquet(str(out / "report_by_person"))
    return spark.read.parquet(str(out / "report_by_person")).count()


if __name__ == "__main__":
    builder = SparkSession.builder.master("local[*]").appName("plain")
    if len(sys.argv) > 3:  # the platform's local driver memory: memory is not what is compared
        builder = builder.config("spark.driver.memory", sys.argv[3])
    print(run(builder.getOrCreate(), sys.argv[1], Path(sys.argv[2])))
