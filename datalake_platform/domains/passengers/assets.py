"""The passengers domain as assets: landing CSV -> universal passengers -> features -> survival model -> predictions."""

import time
from collections.abc import Iterator

import dagster as dg
from pyspark.ml import PipelineModel
from pyspark.sql import Observation
from pyspark.sql import functions as F

from datalake_platform.domains.passengers import transforms
from datalake_platform.domains.passengers.checks import FEATURES_CONTRACT, PASSENGERS_CONTRACT, PREDICTIONS_CONTRACT
from datalake_platform.domains.passengers.schemas import Features, Passengers, SurvivalPredictions
from datalake_platform.domains.passengers.tables import (
    FEATURE_COLUMNS,
    FEATURES,
    LANDING_PASSENGERS,
    OWNERS,
    PASSENGERS,
    SURVIVAL_MODEL,
    SURVIVAL_PREDICTIONS,
)
from datalake_platform.lake.files import data_files
from datalake_platform.metadata import table_metadata
from datalake_platform.ml.artifacts import ModelStore, content_version, model_version
from datalake_platform.ml.metrics import binary_metrics
from datalake_platform.ml.plots import curve_markdown
from datalake_platform.quality.validation import spark_schema
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.table_io import read_table, write_table

Results = Iterator[dg.AssetCheckResult | dg.MaterializeResult]

landing_passengers = dg.AssetSpec(
    key=LANDING_PASSENGERS.key_path,
    group_name=LANDING_PASSENGERS.group_name,
    kinds={"csv"},
    owners=OWNERS,
    description="The Titanic passenger list exactly as it arrived (Kaggle train file, quoted CSV, header "
    "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked). Never modified.",
)


@dg.asset(
    key=PASSENGERS.key_path,
    deps=[landing_passengers],
    group_name=PASSENGERS.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[PASSENGERS_CONTRACT.spec],
    description="Typed passengers; Name and Ticket are personal data: kept only as keyed hashes (HMAC-SHA-256, governance.pii) and masked, "
    "tagged `pii` in the column schema. Lines that break a rule go to quarantine/passengers/passengers.",
)
def universal_passengers(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> Results:
    storage = lake.storage
    files = data_files(storage, LANDING_PASSENGERS)
    classified = transforms.classify_passengers(transforms.read_lines(spark.session(), files)).cache()
    try:
        audit = PASSENGERS_CONTRACT.audit(context)
        rows = write_table(transforms.passengers(classified, lake.hash_key()), storage, PASSENGERS, audit)
        yield from PASSENGERS_CONTRACT.outcome(audit)
        seen = Observation("rejected_passengers")
        rejected = transforms.rejected_passengers(classified).observe(
            seen, *[F.count_if(F.col("reason") == r).alias(r) for r in transforms.REASONS]
        )
        quarantined = write_table(rejected, storage, PASSENGERS.quarantine())
    finally:
        classified.unpersist()
    yield dg.MaterializeResult(
        metadata=table_metadata(
            storage,
            PASSENGERS,
            Passengers,
            rows=rows,
            landing_files=len(files),
            quarantined_rows=quarantined,
            quarantine_reasons=dg.MetadataValue.json({r: n for r, n in seen.get.items() if n}),
            quarantine_uri=storage.table_uri(PASSENGERS.quarantine()),
        )
    )


@dg.asset(
    key=FEATURES.key_path,
    deps=[universal_passengers],
    group_name=FEATURES.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[FEATURES_CONTRACT.spec],
    description=f"The MLP's 9 numeric inputs {FEATURE_COLUMNS} (Age and Fare imputed with train medians, "
    "Embarked one-hot), the label Survived and a split (train/test, 80/20 by a hash of PassengerId).",
)
def passenger_features(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> Results:
    storage, session = lake.storage, spark.session()
    passengers = read_table(session, storage, PASSENGERS, spark_schema(Passengers))
    audit = FEATURES_CONTRACT.audit(context)
    rows = write_table(transforms.features(passengers), storage, FEATURES, audit)
    yield from FEATURES_CONTRACT.outcome(audit)
    published = read_table(session, storage, FEATURES, spark_schema(Features))
    splits = {r["split"]: r["count"] for r in published.groupBy("split").count().collect()}
    yield dg.MaterializeResult(
        metadata=table_metadata(
            storage,
            FEATURES,
            Features,
            rows=rows,
            rows_by_split=dg.MetadataValue.json(splits),
            table_version=content_version(published),
        )
    )


@dg.asset(
    key=SURVIVAL_MODEL.key_path,
    deps=[passenger_features],
    group_name=SURVIVAL_MODEL.group_name,
    kinds={"spark", "mllib"},
    owners=OWNERS,
    description="MLlib MultilayerPerceptronClassifier(layers=[9, 50, 50, 2], blockSize=128, seed=1234) on "
    "standardized features, and a logistic-regression baseline trained the same way; saved with MLlib's "
    "writer under version=<hash of the feature table and the spec>. Metrics are on the test split.",
)
def survival_model(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> dg.MaterializeResult:
    features = read_table(spark.session(), lake.storage, FEATURES, spark_schema(Features))
    data_version = content_version(features)
    version = model_version(data_version, transforms.model_spec())
    train = transforms.labelled(features, "train").cache()
    test = transforms.labelled(features, "test")
    try:
        started = time.perf_counter()
        mlp = transforms.train_mlp(train)
        mlp_seconds = time.perf_counter() - started
        started = time.perf_counter()
        baseline = transforms.train_baseline(train)
        baseline_seconds = time.perf_counter() - started
        n_train = train.count()
    finally:
        train.unpersist()

    def save(folder: str) -> None:
        mlp.write().save(f"{folder}/mlp")
        baseline.write().save(f"{folder}/logistic_regression")

    store = ModelStore(lake.storage, SURVIVAL_MODEL)
    uri = store.publish(version, save)
    # Scored as published, loaded back: a model just fitted by Spark 4.0 keeps a training summary that
    # holds the session, which 4.0 fails to serialize into the scoring tasks ("Task not serializable").
    scores = binary_metrics(PipelineModel.load(f"{store.uri(version)}/mlp").transform(test))
    base = binary_metrics(PipelineModel.load(f"{store.uri(version)}/logistic_regression").transform(test))
    context.log.info(f"MLP test accuracy {scores['accuracy']:.4f} (baseline {base['accuracy']:.4f}); saved at {uri}")
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": uri,
            "model_version": version,
            "feature_table_version": data_version,
            "accuracy": scores["accuracy"],
            "auc": scores["auc"],
            "f1": scores["f1"],
            "confusion_matrix": dg.MetadataValue.json(scores["confusion"]),
            "training_seconds": round(mlp_seconds, 3),
            "train_rows": n_train,
            "test_rows": scores["rows"],
            "loss_per_iteration": curve_markdown(transforms.loss_history(mlp), "MLP training loss", "iteration"),
            "baseline/accuracy": base["accuracy"],
            "baseline/auc": base["auc"],
            "baseline/f1": base["f1"],
            "baseline/confusion_matrix": dg.MetadataValue.json(base["confusion"]),
            "baseline/training_seconds": round(baseline_seconds, 3),
            "spec": transforms.model_spec(),
        }
    )


@dg.asset(
    key=SURVIVAL_PREDICTIONS.key_path,
    deps=[survival_model, passenger_features],
    group_name=SURVIVAL_PREDICTIONS.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[PREDICTIONS_CONTRACT.spec],
    description="The published MLP's prediction (0/1) and P(survived) for every passenger, train and test.",
)
def survival_predictions(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> Results:
    store = ModelStore(lake.storage, SURVIVAL_MODEL)
    version = store.current()
    model = PipelineModel.load(f"{store.uri(version)}/mlp")
    features = read_table(spark.session(), lake.storage, FEATURES, spark_schema(Features))
    correct = Observation("test_accuracy")  # seen while writing: the accuracy these very rows give
    test = F.col("split") == "test"
    scored = model.transform(features).observe(
        correct,
        F.count_if(test).alias("test"),
        F.count_if(test & (F.col("prediction").cast("int") == F.col("Survived"))).alias("right"),
    )
    predictions = transforms.survival_predictions(scored, version)
    audit = PREDICTIONS_CONTRACT.audit(context)
    rows = write_table(predictions, lake.storage, SURVIVAL_PREDICTIONS, audit)
    yield from PREDICTIONS_CONTRACT.outcome(audit)
    seen = correct.get
    yield dg.MaterializeResult(
        metadata=table_metadata(
            lake.storage,
            SURVIVAL_PREDICTIONS,
            SurvivalPredictions,
            rows=rows,
            model_version=version,
            test_accuracy=seen["right"] / seen["test"] if seen["test"] else 0.0,
        )
    )
