"""Pattern rules checked by a byte search agree with Java's regex, value by value."""

import pytest
from pyspark.sql import functions as F

from datalake_platform.domains.transactions.schemas import PERSON_ID
from datalake_platform.quality.patterns import forbidden_characters, matches

SEARCHED = [PERSON_ID, r"^[^,;\t]*(?![\s\S])", r"^[^\s|]+(?![\S\s])", r"^[^\]\\.]+(?![\s\S])"]
LEFT_TO_REGEX = [
    r"^[0-9]+$",  # not only "anything but"
    r"^\S+$",  # `$` also matches before a final line break
    r"\S+",  # not anchored
    r"^[^a-z]+(?![\s\S])",  # a range
    r"^\S+?(?![\s\S])",  # a lazy quantifier
    r"^\S++(?![\s\S])",  # a possessive one
    r"^[^é]+(?![\s\S])",  # a character that is not ASCII
    r"^[^\d]+(?![\s\S])",  # a class inside the class
    r"^(?:\S+(?![\s\S]))",
]
# Text, and bytes that are not UTF-8 (Java decodes each bad byte to U+FFFD, which `\S` matches).
TEXTS = [
    "",
    "a",
    "00001",
    " a",
    "a ",
    "a\n",
    "a\r\n",
    "\r",
    "a\tb",
    "a\x0bb",
    "a\fb",
    "\u00a0",
    "\u2028",
    "\x1c",
    "é",
    "日本",
    "a,b",
    "a;",
    "x|y",
    "]",
    "a.b",
    "back\\slash",
    "😀",
]
BYTES = [b"\xff", b"\xc3 ", b"ab\xe2\x80", b"\xed\xa0\x80x", b"\xf0\x9f\x98"]


@pytest.mark.parametrize("pattern", SEARCHED)
def test_a_byte_search_says_what_the_regex_says(spark, pattern):
    rows = [(t, None) for t in TEXTS] + [(None, b) for b in BYTES] + [(None, None)]
    df = spark.createDataFrame(rows, "text string, raw binary")
    value = F.coalesce(F.col("text"), F.col("raw").cast("string"))
    searched = matches(value, pattern)
    assert "RLIKE" not in str(searched).upper()
    got = df.select(value.alias("v"), value.rlike(pattern).alias("regex"), searched.alias("search")).collect()
    assert [(r.v, r.search) for r in got] == [(r.v, r.regex) for r in got]
    assert {r.regex for r in got} == {True, False, None}  # the values tell passes from failures


@pytest.mark.parametrize("pattern", LEFT_TO_REGEX)
def test_other_patterns_are_left_to_the_regex(pattern):
    assert forbidden_characters(pattern) is None


def test_what_a_value_may_not_hold():
    assert forbidden_characters(PERSON_ID) == (" \t\n\x0b\f\r", True)
    assert forbidden_characters(r"^[^,;\t,]*(?![\s\S])") == (",;\t", False)
