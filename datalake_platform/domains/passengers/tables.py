"""The tables of the passengers domain. The passenger list is one snapshot: no partitions."""

from datalake_platform.lake.table_refs import TableRef, Zone

LANDING_PASSENGERS = TableRef(Zone.LANDING, "passengers", "passengers")
PASSENGERS = TableRef(Zone.UNIVERSAL, "passengers", "passengers")
FEATURES = TableRef(Zone.SMART, "passengers", "features")
SURVIVAL_MODEL = TableRef(Zone.SMART, "passengers", "survival_model")
SURVIVAL_PREDICTIONS = TableRef(Zone.SMART, "passengers", "survival_predictions")

# The Kaggle train file's header, in this order (the file is parsed by position, quotes honoured).
LANDING_COLUMNS = [
    "PassengerId",
    "Survived",
    "Pclass",
    "Name",
    "Sex",
    "Age",
    "SibSp",
    "Parch",
    "Ticket",
    "Fare",
    "Cabin",
    "Embarked",
]
# The 9 inputs of the reference architecture's MLP (layers [9, 50, 50, 2]).
FEATURE_COLUMNS = [
    "pclass",
    "sex_male",
    "age",
    "sibsp",
    "parch",
    "fare",
    "embarked_c",
    "embarked_q",
    "embarked_s",
]
OWNERS = ["team:passengers"]
