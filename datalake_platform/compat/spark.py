"""The one place that knows how Spark lines differ: 3.5 (EMR 7, Dataproc 2.2, Databricks 15.4 / 16.4),
4.0 (Dataproc Serverless 3.0, Databricks 17.3) and the newest (the default install).

Each function uses the newer Spark's own function where the running pyspark has it, and a
portable form beside it that gives the same values on the older lines (the test module
`datalake_platform_tests/compat/test_spark.py` runs both forms where both exist and compares
them value by value). Domain code calls these, never a version check of its own.

Detection is by feature (does pyspark have the function?), not by version number: a vendor's
Spark may backport a function into an older line. The one exception is an optimizer change that
no function shows (`computed_once`). Private pyspark APIs used here (the 3.5 `try_cast`) are
exercised by the test module on the line that needs them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence

import pyarrow as pa
import pyspark
from pyspark import SparkContext
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import BooleanType, DataType, StringType, StructField, StructType

# Session settings every line must share to give the same values. Spark 3.5's default parser
# policy (EXCEPTION) raises on a date that the pre-3.0 parser would have read differently, where
# 4.x returns null; CORRECTED is 4.x's default.
SESSION_CONF = {"spark.sql.legacy.timeParserPolicy": "CORRECTED"}


def try_to_date(text: Column | str, fmt: str) -> Column:
    """`text` parsed with the pattern `fmt` as a date; null when it does not parse."""
    text = F.col(text) if isinstance(text, str) else text
    if hasattr(F, "try_to_date"):
        return F.try_to_date(text, fmt)
    return F.try_to_timestamp(text, F.lit(fmt)).cast("date")  # 3.5, 4.0: same dates, same nulls


def try_cast(value: Column, to: str | DataType) -> Column:
    """`value` cast to the type `to` (a DataType or DDL, e.g. "decimal(12,2)"); null when it does not fit.

    Spark 3.5 has no `try_cast` in Python, and its plain `cast` (ANSI off) is not the same: it
    reads "1.5" as the int 1. Its Catalyst has the TRY cast, built here through the JVM (a
    private API, tested by `compat/test_spark.py`); a Spark Connect 3.5 client has no way to it.
    """
    if hasattr(Column, "try_cast"):
        return value.try_cast(to)
    return _jvm_try_cast(value, to)


def _jvm_try_cast(value: Column, to: str | DataType) -> Column:
    # The process's SparkContext, not the thread's active session: a stream's batch function runs
    # on another thread, which has none.
    context = SparkContext._active_spark_context
    if context is None:
        raise RuntimeError("try_cast on Spark 3.5 needs a classic Spark session (Spark Connect 3.5 has no try_cast)")
    jvm = context._jvm
    expressions = jvm.org.apache.spark.sql.catalyst.expressions
    evaluation = getattr(getattr(expressions, "EvalMode$"), "MODULE$").TRY()
    types = jvm.org.apache.spark.sql.types.DataType
    data_type = types.fromDDL(to) if isinstance(to, str) else types.fromJson(to.json())
    cast = expressions.Cast(value._jc.expr(), data_type, jvm.scala.Option.apply(None), evaluation)
    return Column(jvm.org.apache.spark.sql.Column(cast))


def is_valid_utf8(text: Column | str) -> Column:
    """Whether a string's bytes (Spark keeps what it read, valid or not) are all valid UTF-8."""
    text = F.col(text) if isinstance(text, str) else text
    if hasattr(F, "is_valid_utf8"):
        return F.is_valid_utf8(text)
    # Java's decoder turns each invalid sequence into U+FFFD: the bytes survive a round trip
    # exactly when they were valid (a real U+FFFD encodes back to itself).
    raw = text.cast("binary")
    return F.encode(F.decode(raw, "UTF-8"), "UTF-8") == raw


def make_valid_utf8(text: Column | str) -> Column:
    """A string's bytes as valid UTF-8: each invalid sequence becomes U+FFFD."""
    text = F.col(text) if isinstance(text, str) else text
    if hasattr(F, "make_valid_utf8"):
        return F.make_valid_utf8(text)
    # Python replaces as Spark 4 does (the Unicode standard's "maximal subpart" practice), where
    # Java's decoder differs (one U+FFFD for a surrogate's three bytes): used for quarantined rows.
    return _decode_replacing(text.cast("binary"))


@F.udf(StringType())  # a type object: 3.5 parses a type string only with a session
def _decode_replacing(raw):  # no type hints: pyspark 4 would read them as a pandas UDF's
    return None if raw is None else bytes(raw).decode("utf-8", "replace")


def array_position(array: Column, value: Column) -> Column:
    """The 1-based position of `value` in `array` (0 when absent), `value` being a column.

    pyspark 3.5's `array_position` takes only a literal; the SQL function takes any expression
    and `call_function` (3.5+) reaches it on every line.
    """
    return F.call_function("array_position", array, value)


def arrow_schema(schema: StructType) -> pa.Schema:
    """The arrow schema of parquet files Spark writes with `schema`: timestamps as UTC instants
    (the platform's sessions run in UTC). Newer pyspark asks for the time zone; older ones use UTC."""
    if "timezone" in inspect.signature(to_arrow_schema).parameters:
        return to_arrow_schema(schema, timezone="UTC")
    return to_arrow_schema(schema)


def observed_list(value: str | None) -> list:
    """An array metric of an `Observation`, aggregated as `F.to_json(...)`: Spark 3.5 and 4.0 hand
    arrays back as JVM objects, JSON text comes back as text on every line."""
    return json.loads(value) if value else []


def _spark_line() -> tuple[int, int]:
    major, minor = pyspark.__version__.split(".")[:2]
    return int(major), int(minor)


# Spark 4.1 stopped pushing a filter through a projection when that would evaluate an expensive
# expression again (SPARK-47672); a version says so, no function does.
FILTERS_KEEP_EXPENSIVE_PROJECTIONS = _spark_line() >= (4, 1)


def computed_once(value: Column) -> Column:
    """`value` (a column many rules read, filtered on downstream) computed where it is projected.

    Before 4.1, a filter on it is pushed below its projection with the column's expression in its
    place, and the expressions it reads with it: universal's write split each landing line 20 times
    instead of once (test_plan). A nondeterministic (and trivially true) term keeps the projection
    where it is: Spark never pushes a filter through one. 4.1+ needs none.
    """
    if FILTERS_KEEP_EXPENSIVE_PROJECTIONS:
        return value
    return F.when(F.spark_partition_id() >= 0, value)


# ---------------------------------------------------------------- JSON objects

JSON_TYPES = ("missing", "null", "string", "integer", "other")


def json_fields(line: Column, names: Sequence[str]) -> Column:
    """A JSON line read for the named top-level fields: a struct with `is_object` (false when the
    line is not one JSON object), and per name `<name>_type` (one of `JSON_TYPES`; `integer` is a
    whole number that fits 64 bits) and `<name>` (a string's value or an integer's digits, else null).

    Spark 4's Variant functions do it in the JVM; on 3.5, Python's json module does, made to read
    as Spark's parser does: no NaN or Infinity, no duplicate keys, and the line's first value (what
    follows it is not read).
    """
    if hasattr(F, "try_parse_json"):
        return _variant_fields(line, names)
    return F.udf(lambda text: _python_fields(text, names), _fields_type(names))(line)


def _fields_type(names: Sequence[str]) -> StructType:
    fields = [StructField(f, StringType()) for n in names for f in (f"{n}_type", n)]
    return StructType([StructField("is_object", BooleanType()), *fields])


def _variant_fields(line: Column, names: Sequence[str]) -> Column:
    v = F.try_parse_json(line)
    is_object = F.coalesce(F.schema_of_variant(v).startswith("OBJECT"), F.lit(False))
    parts = [is_object.alias("is_object")]
    for name in names:
        field = F.try_variant_get(v, f"$.{name}", "variant")
        kind = F.schema_of_variant(field)
        json_type = (
            F.when(~is_object | field.isNull(), "missing")
            .when(F.is_variant_null(field), "null")
            .when(kind == "STRING", "string")
            .when(kind.isin("BIGINT", "INT", "SMALLINT", "TINYINT"), "integer")
            .otherwise("other")
        )
        value = F.when(json_type.isin("string", "integer"), F.try_variant_get(v, f"$.{name}", "string"))
        parts += [json_type.alias(f"{name}_type"), value.alias(name)]
    return F.struct(*parts)


_INT64 = (-(2**63), 2**63 - 1)


def _python_fields(text: str | None, names: Sequence[str]) -> dict:
    try:
        parsed = _DECODER.raw_decode(text.lstrip(" \t\r\n"))[0] if text is not None else None
    except (ValueError, RecursionError):
        parsed = None
    is_object = isinstance(parsed, dict)
    out: dict = {"is_object": is_object}
    for name in names:
        value = parsed.get(name, _MISSING) if is_object else _MISSING
        kind = _json_type(value)
        out[f"{name}_type"] = kind
        out[name] = value if kind == "string" else str(value) if kind == "integer" else None
    return out


_MISSING = object()


def _json_type(value) -> str:
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]:
        return "integer"
    return "other"


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)


# Private pyspark APIs, each pinned by a test in compat/test_spark.py. Classic sessions only: a
# Spark Connect client has no JVM objects, and says so instead of failing deep inside py4j.


def _jvm_dataframe(df):
    if not hasattr(df, "_jdf"):
        raise RuntimeError("plan statistics need a classic Spark session; Spark Connect does not expose the JVM plan")
    return df._jdf


def plan_nodes(df) -> int:
    """Nodes of the analyzed logical plan (one line each of its tree string)."""
    return str(_jvm_dataframe(df).queryExecution().analyzed().treeString()).count("\n")


def estimated_bytes(df) -> int:
    """The optimizer's size estimate of `df`'s result (no public API gives Catalyst's statistics)."""
    return int(str(_jvm_dataframe(df).queryExecution().optimizedPlan().stats().sizeInBytes()))


def start_thrift_server(session) -> None:
    """HiveThriftServer2 inside `session`, so JDBC clients see its tables (pyspark has no Python API)."""
    session._jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        session._jsparkSession.sqlContext()
    )


def classic_session_stopped(session) -> bool:
    """Whether a classic session's SparkContext was stopped (pyspark keeps the object, without its JVM peer)."""
    return session.sparkContext._jsc is None
