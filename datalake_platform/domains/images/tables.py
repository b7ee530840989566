"""The tables of the images domain. Landing keeps one folder per class: `{class_name}/{file}.png`."""

from datalake_platform.lake.table_refs import TableRef, Zone

LANDING_IMAGES = TableRef(Zone.LANDING, "images", "images")
TENSORS = TableRef(Zone.UNIVERSAL, "images", "tensors")
CNN_MODEL = TableRef(Zone.SMART, "images", "cnn_model")
PREDICTIONS = TableRef(Zone.SMART, "images", "predictions")

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]  # CIFAR-10 order
HEIGHT, WIDTH, CHANNELS = 32, 32, 3
TENSOR_BYTES = HEIGHT * WIDTH * CHANNELS
TEST_SHARE = 20  # percent of images held out, by a hash of image_id
SHARD_ROWS = 50_000  # images per parquet shard: ten shards at the reference's 500,000 images
OWNERS = ["team:images"]
