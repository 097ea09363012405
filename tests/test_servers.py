"""The test servers of tests/servers.py start, serve, and let tests cut clients."""

import psycopg
import redis
from servers import Postgres


def test_a_test_cluster_makes_databases_that_accept_statements(postgres):
    url = postgres.create_database("servers_check")
    try:
        with psycopg.connect(url) as connection:
            assert connection.execute("SELECT 1 + 1").fetchone() == (2,)
    finally:
        postgres.drop_database("servers_check")


def test_a_second_cluster_runs_beside_the_first(postgres, tmp_path):
    second = Postgres.start()
    try:
        assert second.port != postgres.port
        assert second.execute("SELECT current_user") == [("postgres",)]
    finally:
        second.stop()


def test_redis_serves_and_its_subscribers_can_be_cut(redis_url, redis_server):
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe("news")
    pubsub.get_message(timeout=1)
    assert redis_server.cut_clients() == 1
    client.close()
