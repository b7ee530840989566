"""Counting a local file's non-blank lines from its bytes, whatever the chunk boundaries cut."""

import random
import re

import pytest

from datalake_platform.ingestion import lines


def _expected(data: bytes) -> int:
    """Hadoop's line breaks (CRLF, LF, CR) by a regex split; blank = spaces only."""
    parts = re.split(rb"\r\n|\n|\r", data) if data else []
    if data.endswith((b"\n", b"\r")):
        parts = parts[:-1]  # a final line break ends the last line, it opens none
    return sum(1 for p in parts if p.strip(b" "))


EDGES = [
    b"",
    b"a",
    b"a\n",
    b"a\n\n",
    b"\n",
    b"  \n a\n",
    b"a\r\nb\r\n\r\n",
    b"a\rb\r\r",
    b"a\r\r\nb",
    b"\t\n",
    b" ",
    b"x\r",
]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 64 << 20])
def test_lines_and_quotes_are_counted_across_chunk_boundaries(tmp_path, monkeypatch, chunk_bytes):
    monkeypatch.setattr(lines, "CHUNK_BYTES", chunk_bytes)
    rng = random.Random(chunk_bytes)
    bodies = EDGES + [bytes(rng.choice(b'ab \r\n"') for _ in range(rng.randint(0, 40))) for _ in range(300)]
    path = tmp_path / "f.csv"
    for body in bodies:
        path.write_bytes(body)
        counted = lines.count_file(str(path))
        assert (counted.lines, counted.quotes) == (_expected(body), b'"' in body), body
    assert lines.count_file(path.as_uri()) == counted  # a file: URI too


def test_only_local_uncompressed_files_are_counted_on_the_driver():
    assert lines.countable_on_driver("/lake/landing/t/dt=1997-01-01/a.csv")
    assert lines.countable_on_driver("file:///lake/landing/t/dt=1997-01-01/a.csv")
    assert not lines.countable_on_driver("/lake/landing/t/dt=1997-01-01/a.csv.gz")  # Spark decompresses
    assert not lines.countable_on_driver("s3a://bucket/lake/landing/t/dt=1997-01-01/a.csv")
