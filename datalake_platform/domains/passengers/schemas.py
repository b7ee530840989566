"""The contracts of the passengers tables (pandera models).

Which columns hold personal data, and how each is protected, is declared in the domain's
governance spec (`governance.py`), which tags them in `dagster/column_schema`.
"""

import pandera.pyspark as pa
import pyspark.sql.types as T

from datalake_platform.domains.passengers.tables import FEATURE_COLUMNS

SHA256 = r"^[0-9a-f]{64}$"


class Passengers(pa.DataFrameModel):
    """universal/passengers/passengers: one row per passenger, typed, names and tickets protected."""

    PassengerId: T.IntegerType() = pa.Field(ge=1)
    Survived: T.IntegerType() = pa.Field(isin=[0, 1])
    Pclass: T.IntegerType() = pa.Field(isin=[1, 2, 3], description="ticket class")
    NameHash: T.StringType() = pa.Field(
        str_matches=SHA256,
        description="HMAC-SHA-256 of Name under the lake's key (a pseudonym)",
    )
    NameMasked: T.StringType() = pa.Field(description="Name with every word cut to its first letter")
    Sex: T.StringType() = pa.Field(isin=["male", "female"])
    Age: T.DoubleType() = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 120})
    SibSp: T.IntegerType() = pa.Field(ge=0, description="siblings and spouses aboard")
    Parch: T.IntegerType() = pa.Field(ge=0, description="parents and children aboard")
    TicketHash: T.StringType() = pa.Field(str_matches=SHA256, description="HMAC-SHA-256 of Ticket under the lake's key")
    Fare: T.DoubleType() = pa.Field(nullable=True, ge=0)
    Cabin: T.StringType() = pa.Field(nullable=True)
    Embarked: T.StringType() = pa.Field(nullable=True, isin=["C", "Q", "S"], description="port of embarkation")

    class Config:
        name = "universal/passengers/passengers"
        unique = ["PassengerId"]


class Features(pa.DataFrameModel):
    """smart/passengers/features: the model's 9 numeric inputs, the label and the split."""

    PassengerId: T.IntegerType() = pa.Field(ge=1)
    pclass: T.DoubleType() = pa.Field(isin=[1.0, 2.0, 3.0])
    sex_male: T.DoubleType() = pa.Field(isin=[0.0, 1.0])
    age: T.DoubleType() = pa.Field(in_range={"min_value": 0, "max_value": 120}, description="missing: train median")
    sibsp: T.DoubleType() = pa.Field(ge=0)
    parch: T.DoubleType() = pa.Field(ge=0)
    fare: T.DoubleType() = pa.Field(ge=0, description="missing: train median")
    embarked_c: T.DoubleType() = pa.Field(isin=[0.0, 1.0])
    embarked_q: T.DoubleType() = pa.Field(isin=[0.0, 1.0])
    embarked_s: T.DoubleType() = pa.Field(isin=[0.0, 1.0], description="all three 0: port unknown")
    Survived: T.IntegerType() = pa.Field(isin=[0, 1], description="the label")
    split: T.StringType() = pa.Field(isin=["train", "test"])

    class Config:
        name = "smart/passengers/features"
        unique = ["PassengerId"]


assert [c for c in Features.to_schema().columns if c not in ("PassengerId", "Survived", "split")] == FEATURE_COLUMNS


class SurvivalPredictions(pa.DataFrameModel):
    """smart/passengers/survival_predictions: the published model's answer for every passenger."""

    PassengerId: T.IntegerType() = pa.Field(ge=1)
    split: T.StringType() = pa.Field(isin=["train", "test"])
    prediction: T.IntegerType() = pa.Field(isin=[0, 1])
    probability: T.DoubleType() = pa.Field(in_range={"min_value": 0, "max_value": 1}, description="P(survived)")
    model_version: T.StringType() = pa.Field(str_matches=r"^[0-9a-f]{16}$")

    class Config:
        name = "smart/passengers/survival_predictions"
        unique = ["PassengerId"]
