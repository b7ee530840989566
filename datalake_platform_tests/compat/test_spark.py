"""The Spark-line compatibility module: on every line (CI runs this file under pyspark 3.5, 4.0 and
the default), each function gives the values written here, which are what the newest Spark's own
function gives. Where the running Spark has both the native function and the portable form, both
are run and must agree. A private API it uses is exercised on the line that needs it."""

import pyspark
import pytest
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from datalake_platform.compat import spark as compat

TEXTS = [
    "1",
    " 12 ",
    "1.5",
    "1.0",
    "1e3",
    "+5",
    "-0",
    "1,000",
    "",
    "NaN",
    "Infinity",
    "inf",
    "2147483648",
    "9999999999",
    "12.345",
    ".5",
    "abc",
    "1d",
    "00012",
    "99999999999.99",
    "-1.005",
    "\t3\n",
    None,
]
# Spark 4.3's try_cast of TEXTS, as strings; what is not listed is null.
CAST = {
    "int": {"1": "1", " 12 ": "12", "+5": "5", "-0": "0", "00012": "12", "\t3\n": "3"},
    "bigint": {
        "1": "1",
        " 12 ": "12",
        "+5": "5",
        "-0": "0",
        "2147483648": "2147483648",
        "9999999999": "9999999999",
        "00012": "12",
        "\t3\n": "3",
    },
    "double": {
        "1": "1.0",
        " 12 ": "12.0",
        "1.5": "1.5",
        "1.0": "1.0",
        "1e3": "1000.0",
        "+5": "5.0",
        "-0": "-0.0",
        "NaN": "NaN",
        "Infinity": "Infinity",
        "inf": "Infinity",
        "2147483648": "2.147483648E9",
        "9999999999": "9.999999999E9",
        "12.345": "12.345",
        ".5": "0.5",
        "1d": "1.0",
        "00012": "12.0",
        "99999999999.99": "9.999999999999E10",
        "-1.005": "-1.005",
        "\t3\n": "3.0",
    },
    "decimal(12,2)": {
        "1": "1.00",
        " 12 ": "12.00",
        "1.5": "1.50",
        "1.0": "1.00",
        "1e3": "1000.00",
        "+5": "5.00",
        "-0": "0.00",
        "2147483648": "2147483648.00",
        "9999999999": "9999999999.00",
        "12.345": "12.35",
        ".5": "0.50",
        "00012": "12.00",
        "-1.005": "-1.01",
        "\t3\n": "3.00",
    },
}
DATES = {
    "19970101": "1997-01-01",
    "1997-01-01": None,
    "19970231": None,
    "1997011": None,
    "199701011": None,
    " 19970101": None,
    "20240229": "2024-02-29",
    "20230229": None,
    "abc": None,
    "": None,
    None: None,
}


def _strings(spark, values):
    return spark.createDataFrame([(v,) for v in values], "s string")


@pytest.mark.parametrize("to", sorted(CAST))
def test_try_cast_gives_the_newest_sparks_values(spark, to):
    rows = _strings(spark, TEXTS).select(compat.try_cast(F.col("s"), to).cast("string").alias("v")).collect()
    assert [r.v for r in rows] == [CAST[to].get(t) for t in TEXTS]


def test_try_cast_takes_a_data_type(spark):
    [row] = _strings(spark, ["12.345"]).select(compat.try_cast(F.col("s"), DecimalType(12, 2)).alias("v")).collect()
    assert str(row.v) == "12.35"


@pytest.mark.skipif(hasattr(Column, "try_cast"), reason="this pyspark has Column.try_cast; the JVM form is for 3.5")
def test_the_jvm_try_cast_of_spark_3_5_is_a_try_cast(spark):
    """The private API of the 3.5 form (Catalyst's Cast with EvalMode.TRY): fails here if it changes."""
    rows = _strings(spark, TEXTS).select(compat._jvm_try_cast(F.col("s"), "int").cast("string").alias("v")).collect()
    assert [r.v for r in rows] == [CAST["int"].get(t) for t in TEXTS]


def test_try_to_date_parses_with_the_pattern_only(spark):
    rows = _strings(spark, list(DATES)).select(compat.try_to_date("s", "yyyyMMdd").cast("string").alias("v")).collect()
    assert [r.v for r in rows] == list(DATES.values())
    portable = _strings(spark, list(DATES)).select(
        F.try_to_timestamp("s", F.lit("yyyyMMdd")).cast("date").cast("string")
    )
    assert [r[0] for r in portable.collect()] == list(DATES.values())


BYTES = [
    b"plain ascii",
    "caf\u00e9 \u20ac \U0001f600".encode(),
    b"bad \xff\xfe x \xe2\x82",  # invalid bytes, and a sequence cut short at the end
    b"\xed\xa0\x80 surrogate",  # a UTF-16 surrogate encoded in UTF-8: invalid
    b"\xf4\x90\x80\x80 beyond U+10FFFF",
    b"\xc0\xaf overlong",
    "\ufffd a real replacement character".encode(),
    b"",
]


def _binary(spark):
    rows = [(bytearray(b),) for b in BYTES]
    return spark.createDataFrame(rows, "b binary").select(F.col("b").cast("string").alias("s"))


def test_utf8_validity_and_repair_match_pythons_decoder(spark):
    """Python's decoder replaces as Spark 4's make_valid_utf8 does (one U+FFFD per maximal invalid
    subpart): the expected values are computed by it, independently of Spark."""
    rows = (
        _binary(spark)
        .select(
            compat.is_valid_utf8("s").alias("valid"), F.encode(compat.make_valid_utf8("s"), "UTF-8").alias("repaired")
        )
        .collect()
    )
    assert [r.valid for r in rows] == [_valid(b) for b in BYTES]
    assert [bytes(r.repaired) for r in rows] == [b.decode("utf-8", "replace").encode() for b in BYTES]


def _valid(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@pytest.mark.skipif(
    not hasattr(F, "is_valid_utf8"), reason="this pyspark has no native UTF-8 functions to compare with"
)
def test_the_portable_utf8_forms_agree_with_the_native_ones(spark):
    rows = (
        _binary(spark)
        .select(
            F.is_valid_utf8("s").alias("native_valid"),
            F.make_valid_utf8("s").alias("native_repaired"),
            compat._decode_replacing(F.col("s").cast("binary")).alias("portable_repaired"),
        )
        .collect()
    )
    assert [r.native_valid for r in rows] == [_valid(b) for b in BYTES]
    assert [r.portable_repaired for r in rows] == [r.native_repaired for r in rows]


def test_array_position_takes_a_column(spark):
    df = spark.createDataFrame(
        [(["a", "b", "a"], "a"), (["a", "b"], "b"), (["a"], "z"), ([], "a")], "arr array<string>, v string"
    )
    assert [r[0] for r in df.select(compat.array_position(F.col("arr"), F.col("v"))).collect()] == [1, 2, 0, 0]


def test_arrow_schema_stores_timestamps_as_utc_instants():
    from pyspark.sql.types import StructField, StructType, TimestampType

    schema = compat.arrow_schema(StructType([StructField("t", TimestampType()), StructField("m", DecimalType(12, 2))]))
    assert str(schema.field("t").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("m").type) == "decimal128(12, 2)"


def test_an_observed_array_comes_back_as_a_list(spark):
    from pyspark.sql import Observation

    seen = Observation("files")
    df = spark.createDataFrame([("a", 1), ("b", None), ("c", None)], "f string, r int")
    df.observe(seen, F.to_json(F.collect_set(F.when(F.col("r").isNull(), F.col("f")))).alias("files")).collect()
    assert sorted(compat.observed_list(seen.get["files"])) == ["b", "c"]
    assert compat.observed_list(None) == []


NAMES = ["id", "author", "text"]
LINES = {
    '{"id": 1, "author": "a", "text": "t"}': (True, ("integer", "1"), ("string", "a"), ("string", "t")),
    '{"id": "0012", "author": "a", "text": ""}': (True, ("string", "0012"), ("string", "a"), ("string", "")),
    '{"id": -9223372036854775808, "author": null}': (
        True,
        ("integer", "-9223372036854775808"),
        ("null", None),
        ("missing", None),
    ),
    '{"id": 9223372036854775808}': (True, ("other", None), ("missing", None), ("missing", None)),
    '{"id": 1.0, "author": 5, "text": true}': (True, ("other", None), ("integer", "5"), ("other", None)),
    '{"id": 1e2, "author": ["a"], "text": {"x": 1}}': (True, ("other", None), ("other", None), ("other", None)),
    '  {"id": 7}  ': (True, ("integer", "7"), ("missing", None), ("missing", None)),
    '{"text": "caf\\u00e9 \\"q\\""}': (True, ("missing", None), ("missing", None), ("string", 'café "q"')),
    "[1, 2]": (False, ("missing", None), ("missing", None), ("missing", None)),
    '"just a string"': (False, ("missing", None), ("missing", None), ("missing", None)),
    "42": (False, ("missing", None), ("missing", None), ("missing", None)),
    '{"id": 1,}': (False, ("missing", None), ("missing", None), ("missing", None)),
    '{"id": NaN}': (False, ("missing", None), ("missing", None), ("missing", None)),
    '{"id": 1, "id": 2}': (False, ("missing", None), ("missing", None), ("missing", None)),
    '{"id": 1} {"id": 2}': (
        True,
        ("integer", "1"),
        ("missing", None),
        ("missing", None),
    ),  # Spark reads the first value
    '{"id": 3} trailing': (True, ("integer", "3"), ("missing", None), ("missing", None)),
    "not json": (False, ("missing", None), ("missing", None), ("missing", None)),
    "": (False, ("missing", None), ("missing", None), ("missing", None)),
}


def _json_rows(spark, fields):
    df = spark.createDataFrame([(line,) for line in LINES], "line string").select(
        fields(F.col("line"), NAMES).alias("v")
    )
    return [(r.v.is_object, *[(r.v[f"{n}_type"], r.v[n]) for n in NAMES]) for r in df.collect()]


def test_json_fields_reads_a_line_as_the_newest_spark_does(spark):
    assert _json_rows(spark, compat.json_fields) == list(LINES.values())


def test_the_python_json_form_gives_the_same_values_on_every_line(spark):
    """The portable form, run on this line whatever its Spark has (on 4.x beside the Variant one)."""
    python_form = lambda line, names: F.udf(lambda t: compat._python_fields(t, names), compat._fields_type(names))(line)  # noqa: E731
    assert _json_rows(spark, python_form) == list(LINES.values())


def test_the_running_pyspark_is_a_supported_line():
    major, minor = (int(p) for p in pyspark.__version__.split(".")[:2])
    assert (major, minor) in {(3, 5), (4, 0), (4, 3)}, pyspark.__version__


def test_plan_statistics_come_from_the_jvm_plan(spark):
    from datalake_platform.compat.spark import estimated_bytes, plan_nodes

    small = spark.range(10)
    grown = small.withColumn("a", F.col("id") + 1).withColumn("b", F.col("a") * 2).where("b > 3")
    assert plan_nodes(grown) > plan_nodes(small) >= 1
    assert estimated_bytes(small) > 0


def test_a_stopped_classic_session_is_seen_as_stopped(spark):
    from datalake_platform.compat.spark import classic_session_stopped

    assert classic_session_stopped(spark) is False
