r"""Pattern rules as Spark expressions: a search of the value's bytes where that says what the regex
says, Java's regex everywhere else.

Spark's `rlike` decodes every value into a Java String and runs a regex Matcher on it. For a rule
checked on every row of a write, such as a person id with no whitespace (`^\S+(?![\s\S])`), that
was ~0.3 s of a 10M-row write. A pattern that only says "a value of any characters but these" is
checked instead by searching the value's UTF-8 bytes for each forbidden character, which Spark
does without decoding the value. Only ASCII characters are searched for: in UTF-8 a byte below
0x80 is never part of another character, and Java decodes an invalid byte to U+FFFD, never to
one of them, so the search finds exactly the characters the regex would see. Written by hand:
Spark has no such rewrite.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column

# `\s` in Java's regex (Spark compiles patterns without UNICODE_CHARACTER_CLASS); `\S` is the rest.
JAVA_WHITESPACE = " \t\n\x0b\f\r"
# "The very end": unlike `$`, nothing may follow, not even a final line break. Java and Python
# both read it so, which `\z` (Java only) and `\Z` (the end in Python, not in Java) are not.
_VERY_END = (r"(?![\s\S])", r"(?![\S\s])")
_CLASS_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "s": JAVA_WHITESPACE, **{c: c for c in "\\]^-.[&"}}


def matches(value: Column, pattern: str) -> Column:
    """`value rlike pattern`, for a pattern anchored at the start (`^...`): the same result, null
    for a null value, with a byte search instead of the regex where `forbidden_characters` tells."""
    simple = forbidden_characters(pattern)
    if simple is None:
        return value.rlike(pattern)
    forbidden, at_least_one = simple
    clean = ~reduce(Column.__or__, [value.contains(c) for c in forbidden])
    return (value != "") & clean if at_least_one else clean


def forbidden_characters(pattern: str) -> tuple[str, bool] | None:
    r"""For `^X+<end>` or `^X*<end>`, where X is `\S` or a negated class of single characters
    (`[^,;\t]`) and <end> is the very end: the characters X excludes, and whether the value needs
    at least one character. None for any other pattern, or one that excludes a non-ASCII one."""
    body = next(
        (pattern[1 : -len(end)] for end in _VERY_END if pattern.startswith("^") and pattern.endswith(end)), None
    )
    if body is None or len(body) < 2 or body[-1] not in "+*":
        return None
    atom = body[:-1]
    if atom == r"\S":
        forbidden = JAVA_WHITESPACE
    elif atom.startswith("[^") and atom.endswith("]") and len(atom) > 3:
        forbidden = _class_characters(atom[2:-1])
    else:
        return None
    if forbidden is None or not forbidden.isascii():
        return None
    return "".join(dict.fromkeys(forbidden)), body[-1] == "+"


def _class_characters(inner: str) -> str | None:
    """The characters a class lists; None if it holds anything else (a range, a nested class, `&&`)."""
    chars, i = [], 0
    while i < len(inner):
        c = inner[i]
        if c == "\\":
            escaped = _CLASS_ESCAPES.get(inner[i + 1 : i + 2])
            if escaped is None:
                return None
            chars.append(escaped)
            i += 2
        elif c in "[]-&^":
            return None
        else:
            chars.append(c)
            i += 1
    return "".join(chars)
