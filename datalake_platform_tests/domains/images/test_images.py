"""The images domain end to end: real images, real Spark decoding, a real (small, CPU) CNN run under Dagster."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from datalake_platform.domains.images import assets as image_assets
from datalake_platform.domains.images.seed import generate, landing_uri, real_images, seed
from datalake_platform.domains.images.tables import CLASSES, CNN_MODEL, LANDING_IMAGES, PREDICTIONS, TENSORS
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform.ml.shards import ParquetShards, parquet_shards
from datalake_platform_tests.conftest import check_results, materialize, table_frame

GENERATED = 280  # + 20 real: a few hundred images, one epoch on the CPU
SMALL_SHARDS = 100  # so the tensor table has several shards


def png(array: np.ndarray, mode: str, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format=fmt)
    return buffer.getvalue()


RGB = np.random.default_rng(7).integers(0, 256, (32, 32, 3), dtype=np.uint8)
BAD = {  # class folder/file -> (bytes, expected quarantine reason)
    "cat/broken.png": (b"\x89PNG\r\n\x1a\n not really", "undecodable"),
    "dog/large.png": (png(np.zeros((64, 64, 3), np.uint8), "RGB"), "wrong_size"),
    "dog/gray.png": (png(np.zeros((32, 32), np.uint8), "L"), "wrong_channels"),
    "dog/alpha.png": (png(np.zeros((32, 32, 4), np.uint8), "RGBA"), "wrong_channels"),
    "unicorn/pony.png": (png(RGB, "RGB"), "unknown_label"),
}
JPEG = png(RGB, "RGB", "JPEG")


def metadata(result, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def built(tmp_path_factory, spark):
    storage = LocalLakeStorage(str(tmp_path_factory.mktemp("images") / "lake"))
    seed(storage, generated=GENERATED)
    root = storage.table_uri(LANDING_IMAGES)
    for name, (data, _) in BAD.items():
        storage.write_bytes(f"{root}/{name}", data)
    storage.write_bytes(f"{root}/horse/photo.jpg", JPEG)
    storage.write_bytes(f"{root}/cat/_tmp-upload.png", b"half")  # in progress: never read
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(image_assets, "SHARD_ROWS", SMALL_SHARDS)
        result = materialize(
            storage,
            "*smart/images/predictions",
            run_config={"ops": {"smart__images__cnn_model": {"config": {"epochs": 1}}}},
        )
    assert result.success
    return storage, result


def test_tensors_hold_the_decoded_pixels_in_shards(built):
    storage, result = built
    t = table_frame(storage, TENSORS)
    assert len(t) == 20 + GENERATED + 1 and t["image_id"].is_unique
    for name, label, data in real_images():
        row = t[t["source_file"] == f"{CLASSES[label]}/{name}"].iloc[0]
        assert row["label"] == label and row["label_name"] == CLASSES[label]
        assert row["tensor"] == np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).tobytes()
    jpeg = t[t["source_file"] == "horse/photo.jpg"].iloc[0]
    assert jpeg["tensor"] == np.asarray(Image.open(io.BytesIO(JPEG))).tobytes() and jpeg["label"] == 7
    assert set(t["split"]) == {"train", "test"} and (t["tensor"].map(len) == 3072).all()
    meta = metadata(result, str(TENSORS))
    assert meta["shards"] == len(parquet_shards(storage, TENSORS)) == -(-len(t) // SMALL_SHARDS)


def test_bad_images_are_quarantined_with_a_reason(built):
    storage, result = built
    q = table_frame(storage, TENSORS.quarantine())
    assert dict(zip(q["source_file"], q["reason"])) == {name: reason for name, (_, reason) in BAD.items()}
    assert q.set_index("source_file").loc["dog/large.png", "detail"] == "64x64, expected 32x32"
    checks = check_results(result)
    assert all(c.passed for c in checks.values())
    lost = checks["universal/images/tensors:nothing_lost"].metadata
    assert lost["landing_rows"].value == 20 + GENERATED + 1 + len(BAD)  # each image file is one landing record


def test_shards_stream_every_row_once_per_epoch(built):
    storage, _ = built
    train_ids = set(table_frame(storage, TENSORS).query("split == 'train'")["image_id"])
    shards = parquet_shards(storage, TENSORS)
    assert len(shards) > 1
    orders = []
    for epoch in range(2):
        dataset = ParquetShards(
            storage, shards, (32, 32, 3), batch_size=32, split="train", shuffle_seed=0, chunk_rows=64
        )
        dataset.set_epoch(epoch)
        batches = list(dataset)
        ids = [i for b in batches for i in b["ids"]]
        assert sorted(ids) == sorted(train_ids) and max(len(b["ids"]) for b in batches) <= 32
        assert batches[0]["x"].shape[1:] == (32, 32, 3) and str(batches[0]["x"].dtype) == "torch.uint8"
        orders.append(ids)
    assert orders[0] != orders[1]  # reshuffled per epoch


def test_cnn_trains_on_cpu_and_predicts_every_image(built):
    storage, result = built
    model = metadata(result, str(CNN_MODEL))
    assert model["device"] == "cpu" and model["epochs"] == 1 and model["images_per_second"] > 0
    assert "data:image/png;base64," in model["loss_per_epoch"] and 0 <= model["loader_wait_share"] < 1
    predictions = table_frame(storage, PREDICTIONS)
    tensors = table_frame(storage, TENSORS, columns=["image_id", "label", "split"])
    assert len(predictions) == len(tensors) and predictions["image_id"].is_unique
    assert set(predictions["model_version"]) == {model["model_version"]}
    merged = predictions.merge(tensors, on="image_id", suffixes=("", "_table"))
    assert (merged["label"] == merged["label_table"]).all() and (merged["split"] == merged["split_table"]).all()
    test = merged[merged["split"] == "test"]
    assert len(test) == model["test_images"]
    assert (test["prediction"] == test["label"]).mean() == pytest.approx(model["accuracy"])
    folder = storage.table_uri(CNN_MODEL)
    assert json.loads(open(f"{folder}/current.json").read()) == {"version": model["model_version"]}
    assert storage.fs.size(f"{model['dagster/uri']}/model.pt") > 100_000


def test_generator_is_deterministic_labelled_rgb(lake):
    first = generate(lake, 30, seed=3)
    again = generate(lake, 30, seed=3)
    assert first.files_written == 30 and again.files_written == 0 and again.files_unchanged == 30
    folder = lake.table_uri(LANDING_IMAGES)
    found = sorted(p for p in lake.fs.find(folder) if p.endswith(".png"))
    assert len(found) == 30
    for path in found[:5]:
        image = Image.open(path)
        assert image.size == (32, 32) and image.mode == "RGB" and path.split("/")[-2] in CLASSES
    assert landing_uri(lake, 3, "x.png").endswith("landing/images/images/cat/x.png")
