"""The passengers pipeline as plain functions `(inputs) -> DataFrame`: no Dagster, no paths."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from datalake_platform.compat import spark as compat
from datalake_platform.domains.passengers.tables import FEATURE_COLUMNS, LANDING_COLUMNS
from datalake_platform.governance.pii import keyed_hash
from datalake_platform.ingestion.text import undated_lines

TEST_SHARE = 20  # percent of passengers held out, chosen by a hash of PassengerId (stable across runs)
SPLIT_SEED = 42
_CORRUPT = "_corrupt_record"
_RAW_SCHEMA = ", ".join(f"{c} string" for c in [*LANDING_COLUMNS, _CORRUPT])
INTEGER = r"^[0-9]+$"
NUMBER = r"^[0-9]+(\.[0-9]+)?$"


def read_lines(spark: SparkSession, paths: list[str]) -> DataFrame:
    """One row per non-blank data line: source_file, line_number (1 = header), raw_line, header_ok.

    The files are read by ingestion's reader of undated files (`ingestion.text.undated_lines`),
    whole, so each line keeps its number; the header is compared with LANDING_COLUMNS (names,
    case-insensitive, in order) because lines are parsed by position.
    """
    expected = ",".join(LANDING_COLUMNS).lower()
    return (
        undated_lines(spark, paths, header=True)
        .where(F.col("line_number") > 1)
        .select(
            "source_file",
            "line_number",
            "raw_line",
            (F.lower(F.regexp_replace("header", r"\s", "")) == expected).alias("header_ok"),
        )
    )


# Quarantine reasons, checked in this order; a row gets the first that applies. A repeated
# PassengerId is judged among the rows that pass every other rule: the first of those keeps it.
REASONS = (
    "wrong_header",
    "malformed_row",
    "unparseable_passenger_id",
    "invalid_survived",
    "invalid_pclass",
    "invalid_sex",
    "unparseable_age",
    "unparseable_family_count",
    "unparseable_fare",
    "invalid_embarked",
    "duplicate_passenger_id",
)


def _blank(c: Column) -> Column:
    return F.coalesce(F.trim(c), F.lit("")) == ""


def _is(c: Column, pattern: str) -> Column:
    return F.coalesce(c.rlike(pattern), F.lit(False))


def _row_reasons() -> list[Column]:
    r = {c: F.trim(F.col(f"r.{c}")) for c in LANDING_COLUMNS}
    return [
        ~F.col("header_ok"),
        F.col(f"r.{_CORRUPT}").isNotNull(),  # wrong field count or an unclosed quote
        ~_is(r["PassengerId"], INTEGER) | (compat.try_cast(r["PassengerId"], "int") < 1),
        ~F.coalesce(r["Survived"].isin("0", "1"), F.lit(False)),
        ~F.coalesce(r["Pclass"].isin("1", "2", "3"), F.lit(False)),
        ~F.coalesce(r["Sex"].isin("male", "female"), F.lit(False)),
        ~_blank(r["Age"]) & ~(_is(r["Age"], NUMBER) & (compat.try_cast(r["Age"], "double") <= 120)),
        ~(_is(r["SibSp"], INTEGER) & _is(r["Parch"], INTEGER)),
        ~_blank(r["Fare"]) & ~_is(r["Fare"], NUMBER),
        ~_blank(r["Embarked"]) & ~F.coalesce(r["Embarked"].isin("C", "Q", "S"), F.lit(False)),
    ]


def classify_passengers(lines: DataFrame) -> DataFrame:
    """Landing lines parsed (quotes honoured) into `r.*` string fields, with a `reason` (null = good)."""
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT, "escape": '"'}  # RFC 4180: "" in quotes
    parsed = lines.select("*", F.from_csv("raw_line", _RAW_SCHEMA, options).alias("r"))
    reason = F.lit(None).cast("string")
    for name, broken in reversed(list(zip(REASONS, _row_reasons()))):
        reason = F.when(broken, F.lit(name)).otherwise(reason)
    valid_first = Window.partitionBy(F.trim("r.PassengerId")).orderBy(
        F.col("reason").isNull().desc(), "source_file", "line_number"
    )
    repeated = F.col("reason").isNull() & (F.row_number().over(valid_first) > 1)
    return parsed.withColumn("reason", reason).withColumn(
        "reason", F.when(repeated, F.lit(REASONS[-1])).otherwise(F.col("reason"))
    )


def _mask(c: str) -> Column:
    """`Braund, Mr. Owen Harris` -> `B*****, M*. O*** H*****`: shape kept, identity gone."""
    return F.regexp_replace(F.col(f"r.{c}"), r"(?<=\p{L})\p{L}", "*")


def passengers(classified: DataFrame, hash_key: bytes) -> DataFrame:
    """The good rows, typed, Name and Ticket protected: universal/passengers/passengers."""
    r = lambda c: F.trim(F.col(f"r.{c}"))  # noqa: E731
    empty_to_null = lambda c: F.when(r(c) != "", r(c))  # noqa: E731
    return classified.where(F.col("reason").isNull()).select(
        r("PassengerId").cast("int").alias("PassengerId"),
        r("Survived").cast("int").alias("Survived"),
        r("Pclass").cast("int").alias("Pclass"),
        keyed_hash(F.col("r.Name"), hash_key).alias("NameHash"),
        _mask("Name").alias("NameMasked"),
        r("Sex").alias("Sex"),
        empty_to_null("Age").cast("double").alias("Age"),
        r("SibSp").cast("int").alias("SibSp"),
        r("Parch").cast("int").alias("Parch"),
        keyed_hash(F.col("r.Ticket"), hash_key).alias("TicketHash"),
        empty_to_null("Fare").cast("double").alias("Fare"),
        empty_to_null("Cabin").alias("Cabin"),
        empty_to_null("Embarked").alias("Embarked"),
    )


def rejected_passengers(classified: DataFrame) -> DataFrame:
    """The lines that broke a rule, exactly as they arrived: quarantine/passengers/passengers."""
    return classified.where(F.col("reason").isNotNull()).select("source_file", "line_number", "raw_line", "reason")


# `test` for about TEST_SHARE% of passengers, by a hash of the id: the same on every run. Also a
# table rule of the features contract, so a split computed any other way is caught.
SPLIT_SQL = f"CASE WHEN pmod(xxhash64(CAST(PassengerId AS BIGINT), {SPLIT_SEED}), 100) < {TEST_SHARE} THEN 'test' ELSE 'train' END"
SPLIT_RULE = f"split = {SPLIT_SQL}"


def features(passengers: DataFrame) -> DataFrame:
    """The 9 numeric inputs, the label and the split: smart/passengers/features.

    Age and Fare are imputed with the train split's medians (the test split never leaks into
    the model); Embarked is one-hot over C, Q, S (unknown port: all zero); Sex is 1 for male.
    """
    with_split = passengers.withColumn("split", F.expr(SPLIT_SQL))
    medians = (
        with_split.where(F.col("split") == "train")
        .agg(F.median("Age").alias("age"), F.median("Fare").alias("fare"))
        .first()
    )
    one_hot = lambda port: (F.coalesce(F.col("Embarked"), F.lit("")) == port).cast("double")  # noqa: E731
    out = with_split.select(
        "PassengerId",
        F.col("Pclass").cast("double").alias("pclass"),
        (F.col("Sex") == "male").cast("double").alias("sex_male"),
        F.coalesce(F.col("Age"), F.lit(medians["age"])).cast("double").alias("age"),
        F.col("SibSp").cast("double").alias("sibsp"),
        F.col("Parch").cast("double").alias("parch"),
        F.coalesce(F.col("Fare"), F.lit(medians["fare"])).cast("double").alias("fare"),
        one_hot("C").alias("embarked_c"),
        one_hot("Q").alias("embarked_q"),
        one_hot("S").alias("embarked_s"),
        "Survived",
        "split",
    )
    assert out.columns[1:10] == FEATURE_COLUMNS
    return out


# The reference architecture's MLP, and a logistic-regression baseline trained the same way.
MLP_LAYERS = [len(FEATURE_COLUMNS), 50, 50, 2]
MLP_PARAMS = {"layers": MLP_LAYERS, "blockSize": 128, "seed": 1234}
TRAIN_PARTITIONS = 2  # fixed, so the same rows always reach the optimizer in the same order


def model_spec() -> str:
    """What, besides the data, decides the models: part of their version."""
    return f"scaled{FEATURE_COLUMNS}|mlp{sorted(MLP_PARAMS.items())}|logreg(defaults)"


def _pipeline(classifier):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    return Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURE_COLUMNS, outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
            classifier,
        ]
    )


def labelled(features: DataFrame, split: str) -> DataFrame:
    """One split's rows with `label` (double), laid out deterministically for training."""
    rows = features.where(F.col("split") == split).withColumn("label", F.col("Survived").cast("double"))
    return rows.repartition(TRAIN_PARTITIONS, "PassengerId").sortWithinPartitions("PassengerId")


def train_mlp(train: DataFrame):
    from pyspark.ml.classification import MultilayerPerceptronClassifier

    return _pipeline(MultilayerPerceptronClassifier(labelCol="label", **MLP_PARAMS)).fit(train)


def train_baseline(train: DataFrame):
    from pyspark.ml.classification import LogisticRegression

    return _pipeline(LogisticRegression(labelCol="label")).fit(train)


def loss_history(pipeline_model) -> list[float]:
    """The MLP's training objective per optimizer iteration."""
    return list(pipeline_model.stages[-1].summary().objectiveHistory)


def survival_predictions(scored: DataFrame, version: str) -> DataFrame:
    """A scored features frame as smart/passengers/survival_predictions."""
    from pyspark.ml.functions import vector_to_array

    return scored.select(
        "PassengerId",
        "split",
        F.col("prediction").cast("int").alias("prediction"),
        vector_to_array("probability")[1].alias("probability"),
        F.lit(version).alias("model_version"),
    )
