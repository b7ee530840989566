"""The images domain as assets: landing image files -> universal tensors (shards) -> CNN -> predictions."""

import math
from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field
from pyspark import StorageLevel
from pyspark.sql import Observation
from pyspark.sql import functions as F

from datalake_platform.domains.images import transforms
from datalake_platform.domains.images.checks import PREDICTIONS_CONTRACT, TENSORS_CONTRACT
from datalake_platform.domains.images.schemas import Predictions, Tensors
from datalake_platform.domains.images.tables import (
    CHANNELS,
    CLASSES,
    CNN_MODEL,
    HEIGHT,
    LANDING_IMAGES,
    OWNERS,
    PREDICTIONS,
    SHARD_ROWS,
    TENSORS,
    WIDTH,
)
from datalake_platform.metadata import table_metadata
from datalake_platform.ml.artifacts import ModelStore, content_version, model_version
from datalake_platform.ml.metrics import confusion_markdown
from datalake_platform.ml.plots import curve_markdown
from datalake_platform.quality.validation import spark_schema
from datalake_platform.resources import LakeResource, SparkResource
from datalake_platform.spark.table_io import read_table, write_table

Results = Iterator[dg.AssetCheckResult | dg.MaterializeResult]
SHAPE = (HEIGHT, WIDTH, CHANNELS)

landing_images = dg.AssetSpec(
    key=LANDING_IMAGES.key_path,
    group_name=LANDING_IMAGES.group_name,
    kinds={"png", "jpeg"},
    owners=OWNERS,
    description="Image files (PNG/JPEG) exactly as they arrived, one folder per CIFAR-10 class name: "
    f"{CLASSES}. Never modified.",
)


@dg.asset(
    key=TENSORS.key_path,
    deps=[landing_images],
    group_name=TENSORS.group_name,
    kinds={"spark", "iceberg"},
    owners=OWNERS,
    check_specs=[TENSORS_CONTRACT.spec],
    description=f"One row per image: its [32, 32, 3] uint8 RGB tensor, label, source file and split, in parquet "
    f"shards of up to {SHARD_ROWS:,} images that training streams. Undecodable files, wrong sizes and channel "
    "counts, unknown class folders go to quarantine/images/tensors with the reason.",
)
def image_tensors(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> Results:
    storage = lake.storage
    # Decoded once (Python workers), kept for both writes; the pixel bytes of landing are not kept.
    decoded = transforms.decode_images(spark.session(), storage.table_uri(LANDING_IMAGES)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        seen = Observation("decoded_images")
        counted = decoded.observe(seen, *[F.count_if(F.col("reason") == r).alias(r) for r in transforms.REASONS])
        good = transforms.tensors(decoded).count()
        shards = max(1, math.ceil(good / SHARD_ROWS))
        audit = TENSORS_CONTRACT.audit(context)
        rows = write_table(transforms.tensors(decoded).repartition(shards, "image_id"), storage, TENSORS, audit)
        yield from TENSORS_CONTRACT.outcome(audit)
        rejected = write_table(transforms.rejected_images(counted), storage, TENSORS.quarantine())
    finally:
        decoded.unpersist()
    yield dg.MaterializeResult(
        metadata=table_metadata(
            storage,
            TENSORS,
            Tensors,
            rows=rows,
            shards=shards,
            quarantined_images=rejected,
            quarantine_reasons=dg.MetadataValue.json({r: n for r, n in seen.get.items() if n}),
            quarantine_uri=storage.table_uri(TENSORS.quarantine()),
        )
    )


class CnnConfig(dg.Config):
    """How the CNN trains; the defaults are a CPU run of seconds on the demo's thousand images."""

    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = 1e-3
    seed: int = 0
    device: str = Field(default="auto", description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N")
    loader_workers: int = Field(default=0, ge=0, description="DataLoader processes reading shards (use 4+ on a GPU)")

    def spec(self) -> dict:
        """What decides the weights besides the data (not where it runs): part of the model's version."""
        from datalake_platform.domains.images.cnn import ARCHITECTURE

        return {
            "architecture": ARCHITECTURE,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }


def _loader(lake: LakeResource, config: CnnConfig, device, split: str | None, shuffle: bool, epoch: int = 0):
    from torch.utils.data import DataLoader

    from datalake_platform.ml.shards import ParquetShards, parquet_shards

    dataset = ParquetShards(
        lake.storage,
        parquet_shards(lake.storage, TENSORS),
        SHAPE,
        config.batch_size,
        split,
        shuffle_seed=config.seed if shuffle else None,
    )
    dataset.set_epoch(epoch)
    workers = config.loader_workers
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if workers else None,
    )


@dg.asset(
    key=CNN_MODEL.key_path,
    deps=[image_tensors],
    group_name=CNN_MODEL.group_name,
    kinds={"pytorch"},
    owners=OWNERS,
    description="A PyTorch CNN (3 convolution blocks -> flatten -> 2 dense layers) trained from the tensor "
    "shards, streamed; CUDA when present, else the CPU. Saved in the smart zone under version=<hash of the "
    "tensor table and the training spec>. Metadata: test accuracy, loss per epoch (plot), images/s, device.",
)
def cnn_model(
    context: dg.AssetExecutionContext, config: CnnConfig, lake: LakeResource, spark: SparkResource
) -> dg.MaterializeResult:
    from datalake_platform.domains.images import cnn

    tensors = read_table(spark.session(), lake.storage, TENSORS, spark_schema(Tensors))
    data_version = content_version(tensors)
    version = model_version(data_version, str(sorted(config.spec().items())))
    device = cnn.pick_device(config.device)
    epochs = (_loader(lake, config, device, "train", shuffle=True, epoch=e) for e in range(config.epochs))
    trained = cnn.train(epochs, device, config.learning_rate, config.seed)
    scored = cnn.predict(trained.model, _loader(lake, config, device, "test", shuffle=False), device)
    confusion = pd.crosstab(
        pd.Categorical(scored["label"], categories=range(len(CLASSES))),
        pd.Categorical(scored["prediction"], categories=range(len(CLASSES))),
        dropna=False,
    )
    test_images = len(scored["label"])
    accuracy = sum(a == b for a, b in zip(scored["label"], scored["prediction"])) / test_images if test_images else 0.0
    blob = cnn.to_bytes(trained.model, config.spec())
    uri = ModelStore(lake.storage, CNN_MODEL).publish(
        version, lambda folder: lake.storage.write_bytes(f"{folder}/model.pt", blob)
    )
    context.log.info(
        f"CNN on {device}: test accuracy {accuracy:.4f}, {trained.images_per_second:,.0f} images/s, "
        f"loader wait {trained.loader_wait_share:.1%}; saved at {uri}"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": uri,
            "model_version": version,
            "tensor_table_version": data_version,
            "device": str(device),
            "accuracy": accuracy,
            "test_images": test_images,
            "train_images_per_epoch": trained.images // config.epochs,
            "epochs": config.epochs,
            "loss_per_epoch": curve_markdown(trained.loss_per_epoch, "CNN training loss", "epoch"),
            "final_loss": trained.loss_per_epoch[-1],
            "images_per_second": round(trained.images_per_second, 1),
            "training_seconds": round(trained.seconds, 3),
            "loader_wait_share": round(trained.loader_wait_share, 4),
            "loader_startup_seconds": round(trained.loader_startup_seconds, 3),
            "confusion_matrix": confusion_markdown(confusion.to_numpy().tolist(), CLASSES),
            "spec": dg.MetadataValue.json(config.spec()),
        }
    )


@dg.asset(
    key=PREDICTIONS.key_path,
    deps=[cnn_model],
    group_name=PREDICTIONS.group_name,
    kinds={"pytorch", "iceberg"},
    owners=OWNERS,
    check_specs=[PREDICTIONS_CONTRACT.spec],
    description="The published CNN's class and its softmax probability for every image of the tensor table.",
)
def image_predictions(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource) -> Results:
    from datalake_platform.domains.images import cnn

    store = ModelStore(lake.storage, CNN_MODEL)
    version = store.current()
    device = cnn.pick_device("auto")
    with lake.storage.fs.open(f"{store.uri(version)}/model.pt", "rb") as fh:
        model = cnn.from_bytes(fh.read(), device)
    split = read_table(spark.session(), lake.storage, TENSORS, spark_schema(Tensors)).select("image_id", "split")
    scored = pd.DataFrame(
        cnn.predict(model, _loader(lake, CnnConfig(batch_size=512), device, None, shuffle=False), device)
    )
    scored = scored.astype({"label": "int32", "prediction": "int32"}).assign(model_version=version)
    frame = spark.session().createDataFrame(
        scored, schema=("image_id string, label int, prediction int, probability double, model_version string")
    )
    predictions = frame.join(split, "image_id").select(*Predictions.to_schema().columns)
    audit = PREDICTIONS_CONTRACT.audit(context)
    rows = write_table(predictions, lake.storage, PREDICTIONS, audit)
    yield from PREDICTIONS_CONTRACT.outcome(audit)
    yield dg.MaterializeResult(
        metadata=table_metadata(lake.storage, PREDICTIONS, Predictions, rows=rows, model_version=version)
    )
