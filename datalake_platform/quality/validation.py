"""Validate a Spark DataFrame against a pandera model in one Spark job, or while it is written.

pandera's pyspark backend runs one Spark job per check (and stops counting at the first
failure of each). A lake table has a dozen checks and hundreds of partitions, so we compile
the model's column checks into Spark column expressions and count the failures of every
rule, per partition, in a single aggregation. The pandera model stays the contract: the
same model validates natively in tests, and both must agree.

`ContractAudit` goes one step further for tables the platform writes (write-audit-publish):
the rules are checked by the write itself, and the staged files are verified (stored types,
unique keys) before they are published, so a broken table is never visible to readers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import pandera.pyspark as pa
from pyspark.sql import Column, DataFrame, GroupedData
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from datalake_platform.compat import spark as compat
from datalake_platform.lake.table_refs import PARTITION_COLUMN
from datalake_platform.quality import patterns
from datalake_platform.quality.staged_files import StagedFiles

# A unique key shaped `<prefix>-<n>`, n a non-negative integer dense within its prefix (a landing
# file's line numbers under the file's key), declared by `pa.Field(metadata=SEQUENCED_KEY)`: it
# is proved unique with bitmaps of the numbers per prefix, a grouping of a few rows per file
# instead of a shuffle of a hash per row (see `_distinct_lower_bounds`).
SEQUENCED_KEY = {"key": "prefix-sequence"}

# A column whose values seldom repeat within a partition (a person's id among a day's purchases,
# an amount with cents), declared by `pa.Field(metadata=MOSTLY_DISTINCT)`: written without a
# parquet dictionary, which for such a column is built for nothing (unique columns too).
MOSTLY_DISTINCT = {"values": "mostly-distinct"}

# Unique keys are counted on the driver, from the staged files (`StagedFiles`), where Spark runs
# in this process anyway and no partition has more rows than this: pyarrow reads and counts a
# key column 3-5x quicker than a Spark job does. Larger partitions keep the Spark proof.
DRIVER_KEY_ROWS = 5_000_000

# pandera builtin check name -> Spark expression of "the value passes", from its statistics.
_CHECKS: dict[str, Callable[[Column, Mapping[str, Any]], Column]] = {
    "equal_to": lambda c, s: c == F.lit(s["value"]),
    "not_equal_to": lambda c, s: c != F.lit(s["value"]),
    "greater_than": lambda c, s: c > F.lit(s["min_value"]),
    "greater_than_or_equal_to": lambda c, s: c >= F.lit(s["min_value"]),
    "less_than": lambda c, s: c < F.lit(s["max_value"]),
    "less_than_or_equal_to": lambda c, s: c <= F.lit(s["max_value"]),
    "in_range": lambda c, s: (
        (c >= F.lit(s["min_value"]) if s.get("include_min", True) else c > F.lit(s["min_value"]))
        & (c <= F.lit(s["max_value"]) if s.get("include_max", True) else c < F.lit(s["max_value"]))
    ),
    "isin": lambda c, s: c.isin(list(s["allowed_values"])),
    "notin": lambda c, s: ~c.isin(list(s["forbidden_values"])),
    "str_matches": lambda c, s: patterns.matches(c, _anchored(s["pattern"])),
    "str_contains": lambda c, s: c.rlike(s["pattern"]),
    "str_startswith": lambda c, s: c.startswith(s["string"]),
    "str_endswith": lambda c, s: c.endswith(s["string"]),
    "str_length": lambda c, s: _length_between(c, s.get("min_value"), s.get("max_value")),
}


def _anchored(pattern: str) -> str:
    # pandera's str_matches matches at the start of the string (re.match semantics).
    return pattern if pattern.startswith("^") else f"^(?:{pattern})"


def _length_between(c: Column, low: int | None, high: int | None) -> Column:
    ok = F.lit(True)
    if low is not None:
        ok = ok & (F.length(c) >= low)
    if high is not None:
        ok = ok & (F.length(c) <= high)
    return ok


@dataclass(frozen=True)
class Rule:
    """One row-level rule: its name (`column:check`) and the expression rows must satisfy."""

    name: str
    passes: Column


@dataclass
class ValidationReport:
    rows: dict[str, int]  # partition (or "all") -> rows
    failures: dict[str, dict[str, int]]  # partition -> rule -> failing rows (only non-zero)
    schema_errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.schema_errors and not self.failures

    @property
    def failures_by_rule(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for per_rule in self.failures.values():
            for rule, n in per_rule.items():
                totals[rule] = totals.get(rule, 0) + n
        return dict(sorted(totals.items()))

    @property
    def failed_partitions(self) -> list[str]:
        return sorted(self.failures)


def compile_rules(model: type[pa.DataFrameModel]) -> list[Rule]:
    """Every row-level rule of the model as a Spark expression; fails on a check it cannot compile."""
    schema = model.to_schema()
    rules = []
    for name, column in schema.columns.items():
        c = F.col(name)
        if not column.nullable:
            rules.append(Rule(f"{name}:not_null", c.isNotNull()))
        for check in column.checks:
            build = _CHECKS.get(check.name)
            if build is None:
                raise NotImplementedError(
                    f"{model.__name__}.{name}: check {check.name!r} has no Spark translation; "
                    f"supported: {sorted(_CHECKS)}"
                )
            rules.append(Rule(f"{name}:{check.name}", c.isNull() | build(c, check.statistics)))
    return rules


def schema_errors(model: type[pa.DataFrameModel], df: DataFrame) -> list[str]:
    """Missing columns and wrong types: read from the DataFrame's schema, no data touched."""
    actual = {f.name: f.dataType for f in df.schema.fields}
    errors = []
    for name, column in model.to_schema().columns.items():
        if name not in actual:
            errors.append(f"{name}: column missing")
        elif actual[name] != column.dtype.type:
            errors.append(f"{name}: type {actual[name].simpleString()}, expected {column.dtype.type.simpleString()}")
    return errors


def validate(
    model: type[pa.DataFrameModel],
    df: DataFrame,
    extra_rules: Mapping[str, str] | None = None,
    partitioned: bool = True,
) -> ValidationReport:
    """Count each rule's failures per partition in one Spark job.

    `extra_rules` are table-level rules pandera's pyspark models cannot express (e.g. a value
    must equal the partition it is stored in), as `name -> Spark SQL condition rows satisfy`.
    """
    errors = schema_errors(model, df)
    if errors:
        return ValidationReport(rows={}, failures={}, schema_errors=errors)
    rules = all_rules(model, extra_rules)
    unique = model.to_schema().unique or []
    hashed = unique and not _sequenced(model, unique)  # counted in the same pass as the rules
    aggs = [F.count(F.lit(1)).alias("__rows"), *[_failing(r).alias(f"__r{i}") for i, r in enumerate(rules)]]
    if hashed:
        aggs.append(_distinct_hashes(unique).alias("__distinct"))
    by_partition = partitioned and PARTITION_COLUMN in df.columns
    result = _by_partition(df, by_partition).agg(*aggs).collect()
    rows, failures = {}, {}
    for rec in result:
        rows[rec["__p"]] = rec["__rows"]
        found = {r.name: rec[f"__r{i}"] for i, r in enumerate(rules) if rec[f"__r{i}"]}
        if found:
            failures[rec["__p"]] = found
    if unique:
        distinct = (
            {rec["__p"]: rec["__distinct"] for rec in result}
            if hashed
            else _distinct_lower_bounds(df, model, by_partition)
        )
        suspects = [p for p, n in rows.items() if n != distinct.get(p, 0)]
        _add_unique_failures(failures, df, unique, suspects, by_partition)
    return ValidationReport(rows=rows, failures=failures)


def all_rules(model: type[pa.DataFrameModel], extra_rules: Mapping[str, str] | None = None) -> list[Rule]:
    """The model's compiled rules, then the table rules (`name -> Spark SQL condition`)."""
    return compile_rules(model) + [Rule(n, F.expr(e)) for n, e in (extra_rules or {}).items()]


def _failing(rule: Rule) -> Column:
    # A rule that evaluates to null (e.g. a comparison with a null) fails.
    return F.coalesce(F.sum(F.when(rule.passes, 0).otherwise(1)), F.lit(0))


def _distinct_hashes(unique: list[str]) -> Column:
    # Distinct 64-bit hashes of the key: a tenth of the shuffle of distinct keys. A collision
    # can only lower the count, so "as many hashes as rows" proves uniqueness; otherwise the
    # partitions concerned are counted again exactly.
    return F.count_distinct(F.xxhash64(*unique))


def _sequenced(model: type[pa.DataFrameModel], unique: list[str]) -> bool:
    columns = model.to_schema().columns
    return len(unique) == 1 and (columns[unique[0]].metadata or {}).get("key") == SEQUENCED_KEY["key"]


def _distinct_lower_bounds(df: DataFrame, model: type[pa.DataFrameModel], by_partition: bool) -> dict[str, int]:
    """Per partition, distinct unique keys, or fewer: as many as rows proves the keys unique.

    Like the hashes, each key is mapped to something equal keys share. A sequenced key maps to
    (prefix hash, n), and the n of a prefix are set as bits of 64-bit words: `bit_or` per word
    and `bit_count` give the distinct n exactly, in a grouping of a few rows per word instead of
    a row per key (written by hand: Spark's `bitmap_*` functions do the same, 2x slower, as an
    object aggregate). A key that is not `<prefix>-<n>` counts for nothing, so its partition is
    counted again exactly.
    """
    unique = model.to_schema().unique or []
    if not _sequenced(model, unique):
        counted = _by_partition(df, by_partition).agg(_distinct_hashes(unique).alias("d")).collect()
        return {r["__p"]: r["d"] for r in counted}
    key = F.col(unique[0])
    suffix = F.substring_index(key, "-", -1)
    prefix = F.left(key, F.length(key) - F.length(suffix) - 1)
    n = F.when(key.contains("-") & (suffix != "") & ~suffix.startswith("+"), compat.try_cast(suffix, "long"))
    part = F.col(PARTITION_COLUMN) if by_partition else F.lit("all")  # named as text on the driver: cheaper
    # Parsed in a projection of its own, then grouped by plain columns.
    keys = df.select(part.alias("__p"), F.xxhash64(prefix).alias("prefix"), F.when(n >= 0, n).alias("n"))
    words = keys.groupBy("__p", "prefix", F.shiftright("n", 6).alias("word")).agg(
        F.bit_count(F.bit_or(F.expr("shiftleft(1L, int(n & 63))"))).alias("d")
    )
    return {str(r["__p"]): r["d"] for r in words.groupBy("__p").agg(F.sum("d").alias("d")).collect()}


def _distinct_on_driver(
    files: StagedFiles | None, unique: list[str], by_partition: bool, rows: Mapping[str, int]
) -> dict[str, int] | None:
    """Distinct keys per partition (`rows`' keys), counted on the driver; None where it cannot or
    should not be: no files given, a partition too large, or a key across partitions that
    includes the partition column (which is not in the files)."""
    if files is None or max(rows.values(), default=0) > DRIVER_KEY_ROWS:
        return None
    if not by_partition:
        if PARTITION_COLUMN in unique and len(files.by_partition) > 1:
            return None
        files = files.as_one()
    return files.distinct_keys(unique)


def _add_unique_failures(
    failures: dict[str, dict[str, int]], df: DataFrame, unique: list[str], suspects: list[str], by_partition: bool
) -> None:
    for part, repeated in _repeated_keys(df, unique, suspects, by_partition).items():
        failures.setdefault(part, {})[f"{'+'.join(unique)}:unique"] = repeated


class ContractAudit:
    """Write-audit-publish for one write: every row checked while it is written, staged files verified.

    `watch` returns the DataFrame to write, guarded: its first column becomes `raise_error` for
    a row that breaks any rule, so the write job itself checks every row, inside the code Spark
    generates for the write (an `observe` of per-rule counts would stop code generation there,
    ~10% of the write). A write the guard stops (`tripped`) is written again unguarded, and
    `verify` then validates the staged rows in full, to say which partitions fail which rule:
    that second write is the price of a failure only. `verify` always looks at the staged files
    before they are published: their stored types, and the model's unique keys (which no single
    pass can prove: one aggregation of the key column, compared with the rows in the footers).
    """

    def __init__(
        self, model: type[pa.DataFrameModel], extra_rules: Mapping[str, str] | None = None, partitioned: bool = True
    ):
        self.model, self.extra_rules, self.partitioned = model, extra_rules, partitioned
        self.report: ValidationReport | None = None
        self._guard = f"contract of {model.__name__} broken [{uuid.uuid4().hex}]"
        self._tripped = False

    def watch(self, df: DataFrame) -> DataFrame:
        rules = all_rules(self.model, self.extra_rules)
        if not rules or schema_errors(self.model, df):
            return df  # a missing column cannot be checked; `verify` reports it from the staged files
        every_rule = reduce(lambda a, b: a & b, [F.coalesce(r.passes, F.lit(False)) for r in rules])  # null fails
        first = df.columns[0]
        return df.withColumn(first, F.when(every_rule, F.col(first)).otherwise(F.raise_error(F.lit(self._guard))))

    def distinct_columns(self) -> list[str]:
        """The columns whose values never (the unique ones) or seldom repeat (`MOSTLY_DISTINCT`)."""
        schema = self.model.to_schema()
        mostly = [n for n, c in schema.columns.items() if (c.metadata or {}).get("values") == MOSTLY_DISTINCT["values"]]
        return list(dict.fromkeys([*(schema.unique or []), *mostly]))

    def tripped(self, error: Exception) -> bool:
        """Whether `error` is this audit's guard stopping the write (then write again, unguarded)."""
        self._tripped = self._tripped or self._guard in str(error)
        return self._tripped

    def verify(self, staged: DataFrame, rows: Mapping[str, int], files: StagedFiles | None = None) -> bool:
        """The verdict on the staged rows (`rows`: per partition, or under "all"); kept in `report`.
        With `files` (see `StagedFiles`), unique keys are counted on the driver where that is quicker."""
        errors = schema_errors(self.model, staged)
        if errors:
            self.report = ValidationReport(rows=dict(rows), failures={}, schema_errors=errors)
        elif self._tripped:
            self.report = validate(self.model, staged, self.extra_rules, self.partitioned)
        else:
            self.report = ValidationReport(rows=dict(rows), failures=self._repeated_keys(staged, rows, files))
        return self.report.passed

    def _repeated_keys(
        self, staged: DataFrame, rows: Mapping[str, int], files: StagedFiles | None
    ) -> dict[str, dict[str, int]]:
        unique = self.model.to_schema().unique or []
        failures: dict[str, dict[str, int]] = {}
        if not unique:
            return failures
        by_partition = self.partitioned and PARTITION_COLUMN in staged.columns
        counts = dict(rows) if by_partition else {"all": sum(rows.values())}
        distinct = _distinct_on_driver(files, unique, by_partition, counts)
        if distinct is None:
            distinct = _distinct_lower_bounds(staged, self.model, by_partition)
        suspects = [p for p, n in counts.items() if n != distinct.get(p, 0)]
        _add_unique_failures(failures, staged, unique, suspects, by_partition)
        return failures


def _by_partition(df: DataFrame, by_partition: bool) -> GroupedData:
    """Grouped per partition (`__p` = the day), or as one group `__p` = "all"."""
    key = F.col(PARTITION_COLUMN).cast("string") if by_partition else F.lit("all")
    return df.groupBy(key.alias("__p"))


def _repeated_keys(df: DataFrame, unique: list[str], partitions: list[str], by_partition: bool) -> dict[str, int]:
    """Exactly: rows whose key repeats another row's key, in the given partitions."""
    if not partitions:
        return {}
    if by_partition:
        df = df.where(F.col(PARTITION_COLUMN).cast("string").isin(partitions))
    distinct = F.count_distinct(*[F.col(u) for u in unique])
    counted = _by_partition(df, by_partition).agg(F.count(F.lit(1)).alias("n"), distinct.alias("d")).collect()
    return {r["__p"]: r["n"] - r["d"] for r in counted if r["n"] != r["d"]}


def spark_schema(model: type[pa.DataFrameModel]) -> StructType:
    """The Spark schema a table is read with, from its pandera model.

    Every field is nullable: files may hold nulls whatever the model says, and it is the
    contract check's job to count them, not the reader's to fail on them.
    """
    columns = model.to_schema().columns
    return StructType([StructField(n, c.dtype.type, True) for n, c in columns.items()])
