"""The contracts of the images tables (pandera models)."""

import pandera.pyspark as pa
import pyspark.sql.types as T

from datalake_platform.domains.images.tables import CHANNELS, CLASSES, HEIGHT, TENSOR_BYTES, WIDTH

ID = r"^[0-9a-f]{32}$"


class Tensors(pa.DataFrameModel):
    """universal/images/tensors: one row per image, its pixels as a [height, width, channel] uint8 tensor."""

    image_id: T.StringType() = pa.Field(str_matches=ID, description="sha256 of the landing file's path, 32 hex")
    source_file: T.StringType() = pa.Field(description="landing path: class folder / file name")
    label: T.IntegerType() = pa.Field(in_range={"min_value": 0, "max_value": len(CLASSES) - 1})
    label_name: T.StringType() = pa.Field(isin=CLASSES)
    height: T.IntegerType() = pa.Field(isin=[HEIGHT])
    width: T.IntegerType() = pa.Field(isin=[WIDTH])
    channels: T.IntegerType() = pa.Field(isin=[CHANNELS])
    tensor: T.BinaryType() = pa.Field(
        description=f"{TENSOR_BYTES} bytes: uint8 RGB pixels in [height, width, channel] order"
    )
    split: T.StringType() = pa.Field(isin=["train", "test"], description="by a hash of image_id")

    class Config:
        name = "universal/images/tensors"
        unique = ["image_id"]


TENSOR_RULES = {"tensor:length_is_height_width_channels": "length(tensor) = height * width * channels"}


class Predictions(pa.DataFrameModel):
    """smart/images/predictions: the published CNN's class for every image."""

    image_id: T.StringType() = pa.Field(str_matches=ID)
    split: T.StringType() = pa.Field(isin=["train", "test"])
    label: T.IntegerType() = pa.Field(in_range={"min_value": 0, "max_value": len(CLASSES) - 1})
    prediction: T.IntegerType() = pa.Field(in_range={"min_value": 0, "max_value": len(CLASSES) - 1})
    probability: T.DoubleType() = pa.Field(
        in_range={"min_value": 0, "max_value": 1}, description="softmax of the prediction"
    )
    model_version: T.StringType() = pa.Field(str_matches=r"^[0-9a-f]{16}$")

    class Config:
        name = "smart/images/predictions"
        unique = ["image_id"]
