"""The passengers domain end to end on the real Titanic file: real Spark, real Dagster, data checked independently."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from datalake_platform.domains.passengers import checks as passenger_checks
from datalake_platform.domains.passengers.seed import SAMPLE, seed
from datalake_platform.domains.passengers.tables import (
    FEATURE_COLUMNS,
    FEATURES,
    LANDING_PASSENGERS,
    PASSENGERS,
    SURVIVAL_MODEL,
    SURVIVAL_PREDICTIONS,
)
from datalake_platform.governance.pii import LOCAL_KEY_FILE
from datalake_platform.lake.storage import LocalLakeStorage
from datalake_platform_tests.conftest import check_results, materialize, table_frame

ALL = "*smart/passengers/survival_predictions"


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def read(storage, ref) -> pd.DataFrame:
    return table_frame(storage, ref)


@pytest.fixture(scope="module")
def titanic() -> pd.DataFrame:
    """The raw file, read by Python's csv module: the independent truth."""
    return pd.DataFrame(list(csv.DictReader(io.StringIO(SAMPLE.read_text("utf-8")))))


@pytest.fixture(scope="module")
def built(tmp_path_factory, spark):
    storage = LocalLakeStorage(str(tmp_path_factory.mktemp("passengers") / "lake"))
    seed(storage)
    result = materialize(storage, ALL)
    assert result.success
    return storage, result


def test_universal_keeps_every_passenger_and_no_clear_pii(built, titanic):
    storage, result = built
    df = read(storage, PASSENGERS).sort_values("PassengerId").reset_index(drop=True)
    assert len(df) == 891 and int(df["Survived"].sum()) == 342 and int(df["Age"].isna().sum()) == 177
    assert "Name" not in df.columns and "Ticket" not in df.columns
    # Keyed hashes, computed here with Python's hmac and the key the lake made for itself.
    key = bytes.fromhex((Path(storage.root) / LOCAL_KEY_FILE).read_text())
    expected = [hmac.new(key, n.encode(), hashlib.sha256).hexdigest() for n in titanic["Name"]]
    assert df["NameHash"].tolist() == expected
    assert hashlib.sha256(titanic["Name"][0].encode()).hexdigest() not in set(df["NameHash"])  # not a plain hash
    assert df.loc[0, "NameMasked"] == "B*****, M*. O*** H*****"  # Braund, Mr. Owen Harris
    assert df["TicketHash"].tolist() == [
        hmac.new(key, t.encode(), hashlib.sha256).hexdigest() for t in titanic["Ticket"]
    ]
    schema = result.get_asset_materialization_events()[0].materialization.metadata["dagster/column_schema"].value
    tags = {c.name: dict(c.tags) for c in schema.columns if c.tags}
    assert tags == {
        "NameHash": {"pii": "keyed_hash", "pii_category": "person_name"},
        "NameMasked": {"pii": "masked", "pii_category": "person_name"},
        "TicketHash": {"pii": "keyed_hash", "pii_category": "document_number"},
    }
    checks = check_results(result)
    assert checks["universal/passengers/passengers:nothing_lost"].passed
    pii = checks["universal/passengers/passengers:pii_protected"]
    # Every distinct non-blank name and ticket of landing was looked for, and none found.
    raw = set(titanic["Name"]) | set(titanic["Ticket"])
    assert pii.passed and pii.metadata["landing_pii_values"].value == len(raw)
    assert pii.metadata["rows_with_landing_pii"].value == {} and "NameMasked" in pii.metadata["columns_scanned"].value
    assert all(c.passed for c in checks.values())


def test_features_are_nine_numbers_with_train_medians(built, titanic):
    storage, _ = built
    f = read(storage, FEATURES).sort_values("PassengerId").reset_index(drop=True)
    assert [c for c in f.columns if c not in ("PassengerId", "Survived", "split")] == FEATURE_COLUMNS
    assert len(f) == 891 and set(f["split"]) == {"train", "test"}
    raw = titanic.assign(Age=pd.to_numeric(titanic["Age"]), PassengerId=titanic["PassengerId"].astype(int))
    train_ids = set(f.loc[f["split"] == "train", "PassengerId"])
    median_age = raw.loc[raw["PassengerId"].isin(train_ids), "Age"].median()
    missing = raw["Age"].isna().to_numpy()
    assert (f.loc[missing, "age"] == median_age).all()
    assert (f.loc[~missing, "age"].to_numpy() == raw.loc[~missing, "Age"].to_numpy()).all()
    assert (f["sex_male"] == (titanic["Sex"] == "male").astype(float)).all()
    one_hot = f[["embarked_c", "embarked_q", "embarked_s"]].sum(axis=1)
    assert (one_hot == (titanic["Embarked"] != "").astype(float)).all()  # two passengers have no port


def test_model_predicts_every_passenger_with_the_accuracy_it_reports(built, titanic):
    storage, result = built
    model = metadata(result, str(SURVIVAL_MODEL))
    predictions = read(storage, SURVIVAL_PREDICTIONS)
    assert len(predictions) == 891 and predictions["PassengerId"].is_unique
    assert set(predictions["model_version"]) == {model["model_version"]}
    labels = titanic.set_index(titanic["PassengerId"].astype(int))["Survived"].astype(int)
    test = predictions[predictions["split"] == "test"]
    accuracy = (test["prediction"].to_numpy() == labels.loc[test["PassengerId"]].to_numpy()).mean()
    assert accuracy == pytest.approx(model["accuracy"])
    assert len(test) == model["test_rows"]
    assert model["accuracy"] >= passenger_checks.ACCURACY_FLOOR
    assert 0.5 < model["auc"] <= 1 and 0 < model["f1"] <= 1 and model["baseline/accuracy"] > 0.6
    cm = model["confusion_matrix"]
    assert cm["actual_0"]["pred_0"] + cm["actual_1"]["pred_1"] == round(accuracy * len(test))
    assert "data:image/png;base64," in model["loss_per_iteration"]  # the loss curve, shown in the UI
    folder = storage.table_uri(SURVIVAL_MODEL)
    assert json.loads(open(f"{folder}/current.json").read()) == {"version": model["model_version"]}
    for saved in ("mlp", "logistic_regression"):
        assert storage.fs.exists(f"{model['dagster/uri']}/{saved}/metadata")
    assert check_results(result)["smart/passengers/survival_model:accuracy_floor"].passed


def test_same_data_same_model_and_the_floor_blocks_predictions(built, monkeypatch):
    storage, first = built
    before = read(storage, SURVIVAL_PREDICTIONS).sort_values("PassengerId").reset_index(drop=True)
    monkeypatch.setattr(passenger_checks, "ACCURACY_FLOOR", 0.99)  # out of reach: the check must fail
    again = materialize(storage, "smart/passengers/survival_model+")
    assert not again.success
    retrained = metadata(again, str(SURVIVAL_MODEL))
    assert retrained["model_version"] == metadata(first, str(SURVIVAL_MODEL))["model_version"]
    assert retrained["accuracy"] == metadata(first, str(SURVIVAL_MODEL))["accuracy"]
    assert not check_results(again)["smart/passengers/survival_model:accuracy_floor"].passed
    materialized = {e.asset_key.to_user_string() for e in again.get_asset_materialization_events()}
    assert str(SURVIVAL_PREDICTIONS) not in materialized  # blocked downstream
    # the predictions table stays as it was
    pd.testing.assert_frame_equal(
        read(storage, SURVIVAL_PREDICTIONS).sort_values("PassengerId").reset_index(drop=True), before
    )


BAD = """PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked
1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S
2,1,1,"Cumings, Mrs. John",female,,1,0,PC 17599,71.2833,C85,C
3,1,3
x,1,3,"Heikkinen, Miss. Laina",female,26,0,0,T1,7.9,,S
5,2,3,"Allen, Mr. William",male,35,0,0,T2,8.05,,S
6,0,4,"Moran, Mr. James",male,,0,0,T3,8.4,,Q
7,0,1,"McCarthy, Mr. Timothy",unknown,54,0,0,T4,51.8,E46,S
8,0,3,"Palsson, Master. Gosta",male,abc,3,1,T5,21.07,,S
9,1,3,"Johnson, Mrs. Oscar",female,27,one,2,T6,11.13,,S
10,1,2,"Nasser, Mrs. Nicholas",female,14,1,0,T7,free,,C
11,1,3,"Sandstrom, Miss. Marguerite",female,4,1,1,T8,16.7,G6,X
12,1,1,"Bonnell, Miss. Elizabeth,female,58,0,0,T9,26.55,C103,S
1,1,3,"Braund, Mr. Again",male,22,1,0,T10,7.25,,S
13,0,3,"Saundercock, Mr. William",male,20,0,0,T11,8.05,,S,extra
"""
BAD_REASONS = {
    4: "malformed_row",
    5: "unparseable_passenger_id",
    6: "invalid_survived",
    7: "invalid_pclass",
    8: "invalid_sex",
    9: "unparseable_age",
    10: "unparseable_family_count",
    11: "unparseable_fare",
    12: "invalid_embarked",
    13: "malformed_row",  # unclosed quote
    14: "duplicate_passenger_id",
    15: "malformed_row",  # one field too many
}


def test_bad_lines_get_a_reason_in_quarantine(lake, spark):
    root = lake.table_uri(LANDING_PASSENGERS)
    lake.write_bytes(f"{root}/bad.csv", BAD.encode())
    lake.write_bytes(f"{root}/reordered.csv", b"Survived,PassengerId,Pclass\n1,100,3\n\n")
    lake.write_bytes(f"{root}/_tmp-upload.csv", b"in progress, never read\n")
    crlf = BAD.splitlines()[0] + "\r\n" + '14,1,2,"Windows, Mr. Line",male,30,0,0,T12,13,,S' + "\r\n"
    lake.write_bytes(f"{root}/crlf.csv", crlf.encode())
    result = materialize(lake, "universal/passengers/passengers")
    assert result.success
    kept = read(lake, PASSENGERS)
    assert sorted(kept["PassengerId"]) == [1, 2, 14] and kept["Age"].isna().sum() == 1
    assert kept.set_index("PassengerId").loc[14, "Embarked"] == "S"  # no stray carriage return
    q = read(lake, PASSENGERS.quarantine())
    bad = q[q["source_file"] == "bad.csv"]
    assert dict(zip(bad["line_number"], bad["reason"])) == BAD_REASONS
    assert bad.set_index("line_number").loc[4, "raw_line"] == "3,1,3"
    assert q[q["source_file"] == "reordered.csv"]["reason"].tolist() == ["wrong_header"]
    reasons = metadata(result, str(PASSENGERS))["quarantine_reasons"]
    assert reasons["malformed_row"] == 3 and reasons["wrong_header"] == 1 and sum(reasons.values()) == len(q) == 13
    checks = check_results(result)
    assert checks["universal/passengers/passengers:nothing_lost"].passed
    assert checks["universal/passengers/passengers:nothing_lost"].metadata["landing_rows"].value == 16
