"""Governance of the passengers tables: the Titanic passenger list names real people (public
record, but still personal data): names and ticket numbers never leave landing in clear."""

from datetime import timedelta

from pyspark.sql import DataFrame, SparkSession

from datalake_platform.domains.passengers import transforms
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
from datalake_platform.governance.spec import (
    Classification,
    Pii,
    PiiCategory,
    TableGovernance,
    Treatment,
    columns_from,
    same_columns,
)
from datalake_platform.lake.files import data_files
from datalake_platform.lake.storage import LakeStorage

OWNER = OWNERS[0]
NAME, TICKET = PiiCategory.PERSON_NAME, PiiCategory.DOCUMENT_NUMBER
ANALYSTS = ("role:data-scientist", "role:analyst")
KEPT_AS_IS = ["PassengerId", "Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Cabin", "Embarked"]


def landing_pii(spark: SparkSession, storage: LakeStorage) -> DataFrame:
    """Landing's names and tickets as ingestion parses them (quotes honoured)."""
    lines = transforms.read_lines(spark, data_files(storage, LANDING_PASSENGERS))
    return transforms.classify_passengers(lines).select("r.Name", "r.Ticket")


GOVERNANCE = [
    TableGovernance(
        LANDING_PASSENGERS,
        owner=OWNER,
        classification=Classification.RESTRICTED,
        readers=("role:data-platform",),
        pii={"Name": Pii(NAME, Treatment.RAW), "Ticket": Pii(TICKET, Treatment.RAW)},
        landing_values=landing_pii,
    ),
    TableGovernance(
        PASSENGERS,
        model=Passengers,
        owner=OWNER,
        classification=Classification.CONFIDENTIAL,
        readers=ANALYSTS,
        retention_days=None,  # one snapshot, no days: kept while the model is
        pii={
            "NameHash": Pii(NAME, Treatment.KEYED_HASH, source="Name"),
            "NameMasked": Pii(NAME, Treatment.MASKED, source="Name"),
            "TicketHash": Pii(TICKET, Treatment.KEYED_HASH, source="Ticket"),
        },
        lineage={
            **same_columns(LANDING_PASSENGERS, *KEPT_AS_IS),
            "NameHash": columns_from(LANDING_PASSENGERS, "Name"),
            "NameMasked": columns_from(LANDING_PASSENGERS, "Name"),
            "TicketHash": columns_from(LANDING_PASSENGERS, "Ticket"),
        },
    ),
    TableGovernance(
        FEATURES,
        model=Features,
        owner=OWNER,
        classification=Classification.INTERNAL,
        readers=ANALYSTS,
        lineage={
            "PassengerId": columns_from(PASSENGERS, "PassengerId"),
            "pclass": columns_from(PASSENGERS, "Pclass"),
            "sex_male": columns_from(PASSENGERS, "Sex"),
            "age": columns_from(PASSENGERS, "Age"),
            "sibsp": columns_from(PASSENGERS, "SibSp"),
            "parch": columns_from(PASSENGERS, "Parch"),
            "fare": columns_from(PASSENGERS, "Fare"),
            "embarked_c": columns_from(PASSENGERS, "Embarked"),
            "embarked_q": columns_from(PASSENGERS, "Embarked"),
            "embarked_s": columns_from(PASSENGERS, "Embarked"),
            "Survived": columns_from(PASSENGERS, "Survived"),
            "split": columns_from(PASSENGERS, "PassengerId"),
        },
    ),
    TableGovernance(
        SURVIVAL_MODEL, owner=OWNER, classification=Classification.INTERNAL, readers=ANALYSTS, is_model=True
    ),
    TableGovernance(
        SURVIVAL_PREDICTIONS,
        model=SurvivalPredictions,
        owner=OWNER,
        classification=Classification.INTERNAL,
        readers=(*ANALYSTS, "role:serving-api"),
        freshness=timedelta(days=7),  # re-scored when the model or the features change
        lineage={
            **same_columns(FEATURES, "PassengerId", "split"),
            "prediction": columns_from(FEATURES, *FEATURE_COLUMNS),
            "probability": columns_from(FEATURES, *FEATURE_COLUMNS),
        },
    ),
]
