"""The replayer lands posts as JSON-lines files at the chosen rate (no Spark)."""

import json
import time

from datalake_platform.domains.posts.replay import LOOP_ID_STEP, replay
from datalake_platform.domains.posts.sample import tweets
from datalake_platform.domains.posts.tables import LANDING_POSTS


def test_replay_lands_every_post_once_at_the_rate(lake):
    started = time.monotonic()
    sent = replay(lake, rate=100, limit=30, interval=0.1, loops=2)
    elapsed = time.monotonic() - started
    assert sent == 60 and elapsed >= 0.5  # 60 posts at 100/s: the last file is due at 0.5 s
    files = lake.list_landing_files(LANDING_POSTS, lake.list_partitions(LANDING_POSTS))
    posts = [json.loads(line) for f in files for line in open(f.path, encoding="utf-8") if line.strip()]
    assert len(files) == 6 and len(posts) == 60
    first = tweets()[:30]
    assert sorted(p["id"] for p in posts) == sorted([t.id for t in first] + [t.id + LOOP_ID_STEP for t in first])
    assert {p["text"] for p in posts} == {t.text for t in first}
    assert all(set(p) == {"id", "author", "text", "timestamp"} and p["author"].startswith("user_") for p in posts)
