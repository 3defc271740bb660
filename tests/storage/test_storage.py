"""Every Storage method against real SQLite and real PostgreSQL (the `backend` fixture
runs each test on both), migrations, and that /forget really forgets."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg
import pytest

from bot.settings import Settings
from bot.storage import Gap, Reminder, StorageError, StorageUnavailable
from bot.storage.factory import open_storage
from bot.storage.migrations import LATEST, MIGRATIONS, Migration, apply_postgres, apply_sqlite
from bot.storage.postgres import PostgresStorage
from bot.storage.sqlite import SQLiteStorage
from tests.support.storage_backends import PG_DSN, Clock, PgSchema, SQLiteBackend

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
TODAY = NOW.date()
DAY = dt.timedelta(days=1)


# -- interface language -------------------------------------------------------------


async def test_language_is_stored_per_user_and_replaced(backend):
    storage = await backend.open()
    assert await storage.get_language("alice") is None
    await storage.set_language("alice", "uz")
    await storage.set_language("bob", "tg")
    await storage.set_language("alice", "kk")
    assert await storage.get_language("alice") == "kk"
    assert await storage.get_language("bob") == "tg"


async def test_storage_persists_across_reopen(backend):
    first = await backend.open()
    await first.set_language("alice", "ky")
    await first.close()
    second = await backend.open()
    assert await second.get_language("alice") == "ky"


# -- analytics ----------------------------------------------------------------------


async def test_stats_count_events_and_votes_since(backend):
    clock = Clock(NOW - dt.timedelta(days=3))
    storage = await backend.open(clock=clock)
    await storage.log_event("answer", "ru", "ru-patent")  # too old for the window
    await storage.add_feedback("old", "ru-patent", "ru", True, None)
    clock.now = NOW
    for _ in range(3):
        await storage.log_event("answer", "ru", "ru-patent")
    await storage.log_event("answer", "uz", "ru-stay-limit")
    await storage.log_event("clarify", "uz", None)
    await storage.log_event("abstain", "en", None)
    await storage.add_feedback("u1", "ru-patent", "ru", True, None)
    await storage.add_feedback("u2", "ru-patent", "ru", True, None)
    await storage.add_feedback("u3", "ru-stay-limit", "uz", False, None)

    stats = await storage.stats(NOW - dt.timedelta(hours=1))
    assert stats.by_decision == {"answer": 4, "clarify": 1, "abstain": 1}
    assert stats.by_lang == {"ru": 3, "uz": 2, "en": 1}
    assert stats.by_entry == {"ru-patent": 3, "ru-stay-limit": 1}
    assert (stats.helpful, stats.unhelpful) == (2, 1)

    everything = await storage.stats(NOW - dt.timedelta(days=30))
    assert everything.by_decision["answer"] == 5
    assert everything.helpful == 3

    # naive datetimes are taken as UTC; the future holds nothing
    empty = await storage.stats(dt.datetime(2026, 3, 11))
    assert empty.by_decision == {} and empty.by_entry == {}
    assert (empty.helpful, empty.unhelpful) == (0, 0)


async def test_events_are_hour_buckets_without_user_or_text(backend):
    clock = Clock(NOW.replace(minute=7, second=13))
    storage = await backend.open(clock=clock)
    await storage.log_event("answer", "ru", "ru-patent")
    clock.now = NOW.replace(minute=55)
    await storage.log_event("answer", "ru", "ru-patent")
    rows = (await backend.tables())["events"]
    assert len(rows) == 1  # one counter for the hour, not one row per question
    bucket = rows[0][0]
    text = bucket if isinstance(bucket, str) else bucket.isoformat()
    assert ":07" not in text and ":55" not in text and "12:00" in text
    assert 2 in rows[0]


async def test_second_vote_replaces_first_and_downvote_logs_anonymised_question(backend):
    storage = await backend.open(clock=Clock(NOW))
    await storage.add_feedback("u1", "ru-patent", "ru", True, "сколько стоит патент")
    await storage.add_feedback(
        "u1", "ru-patent", "ru", False, "патент AA1234567 звоните +7 999 123-45-67"
    )
    stats = await storage.stats(NOW - DAY)
    assert (stats.helpful, stats.unhelpful) == (0, 1)
    assert len((await backend.tables())["feedback"]) == 1
    gaps = await storage.gaps(NOW - DAY)
    assert [(g.text, g.reason) for g in gaps] == [("патент <id> звоните <phone>", "downvote")]
    # an up-vote never logs the question
    await storage.add_feedback("u2", "ru-patent", "ru", True, "спасибо 123")
    assert len(await storage.gaps(NOW - DAY)) == 1


async def test_gaps_grouped_most_frequent_first_and_anonymised(backend):
    clock = Clock(NOW - dt.timedelta(days=10))
    storage = await backend.open(clock=clock)
    await storage.log_gap("u0", "very old question", "ru", "abstain")
    clock.now = NOW
    for user in ("u1", "u2", "u3"):
        await storage.log_gap(user, "как  продлить визу", "ru", "abstain")
    clock.advance(minutes=1)
    await storage.log_gap("u4", "ish joyi kerak", "uz", "abstain")
    await storage.log_gap("u5", "ish joyi kerak", "uz", "abstain")
    clock.advance(minutes=1)
    await storage.log_gap(
        "u6", "write me at ivan@example.com or @ivan, 8 999 123 45 67", "en", "abstain"
    )
    await storage.log_gap("u7", "   ", "en", "abstain")  # nothing left: not stored

    gaps = await storage.gaps(NOW - DAY)
    assert [(g.text, g.count) for g in gaps] == [
        ("как продлить визу", 3),
        ("ish joyi kerak", 2),
        ("write me at <email> or <user>, <phone>", 1),
    ]
    assert all(isinstance(g, Gap) and g.last_seen.tzinfo is not None for g in gaps)
    assert gaps[1].last_seen == NOW + dt.timedelta(minutes=1)
    assert [g.text for g in await storage.gaps(NOW - DAY, limit=1)] == ["как продлить визу"]
    assert len(await storage.gaps(NOW - dt.timedelta(days=30))) == 4
    stored = [row for rows in (await backend.tables()).values() for row in rows]
    # (not a bare "999": a migration's applied_at microseconds may contain it)
    leaked = ("ivan", "999 123", "45 67")
    assert not any(part in str(cell) for row in stored for cell in row for part in leaked)


async def test_log_gap_rejects_an_unknown_reason(backend):
    storage = await backend.open()
    with pytest.raises(ValueError, match="reason"):
        await storage.log_gap("u1", "text", "ru", "because")


async def test_purge_deletes_old_feedback_gaps_and_finished_reminders(backend):
    clock = Clock(NOW - dt.timedelta(days=40))
    storage = await backend.open(clock=clock)
    await storage.add_feedback("old", "ru-patent", "ru", False, "old question")
    await storage.log_gap("old", "old abstain", "ru", "abstain")
    sent = await storage.add_reminder("old", 1, "patent", TODAY, TODAY - DAY, "ru")
    still_pending = await storage.add_reminder("old", 1, "stay", TODAY + 9 * DAY, TODAY, "ru")
    await storage.claim_due(TODAY - DAY, "w")
    await storage.mark_sent(sent.id)
    clock.now = NOW
    await storage.add_feedback("new", "ru-patent", "ru", False, "new question")
    await storage.log_gap("new", "new abstain", "ru", "abstain")

    deleted = await storage.purge(NOW - dt.timedelta(days=30))
    assert deleted == 4  # old feedback, its gap, old abstain gap, the sent reminder
    assert {g.text for g in await storage.gaps(NOW - dt.timedelta(days=100))} == {
        "new question",
        "new abstain",
    }
    assert (await storage.stats(NOW - dt.timedelta(days=100))).unhelpful == 1
    assert [r.id for r in await storage.reminders("old")] == [still_pending.id]
    assert await storage.purge(NOW - dt.timedelta(days=30)) == 0


# -- reminders ----------------------------------------------------------------------


async def test_add_list_and_cancel_reminders(backend):
    storage = await backend.open(clock=Clock(NOW))
    later = await storage.add_reminder(
        "alice", 11, "patent", TODAY + 10 * DAY, TODAY + 7 * DAY, "uz"
    )
    sooner = await storage.add_reminder("alice", 11, "registration", TODAY + 3 * DAY, TODAY, "uz")
    other = await storage.add_reminder("bob", 22, "stay", TODAY + 5 * DAY, TODAY + DAY, "tg")
    assert isinstance(later, Reminder) and later.status == "pending"
    assert (later.chat_id, later.kind, later.lang) == (11, "patent", "uz")
    assert later.due == TODAY + 10 * DAY and later.remind_on == TODAY + 7 * DAY
    assert [r.id for r in await storage.reminders("alice")] == [sooner.id, later.id]

    assert not await storage.cancel_reminder("alice", other.id)  # not hers
    assert not await storage.cancel_reminder("alice", 999_999)  # does not exist
    assert [r.id for r in await storage.reminders("bob")] == [other.id]
    assert await storage.cancel_reminder("alice", later.id)
    assert not await storage.cancel_reminder("alice", later.id)  # already cancelled
    assert [r.id for r in await storage.reminders("alice")] == [sooner.id]
    assert await storage.claim_due(TODAY + 30 * DAY, "w") == [
        dataclasses.replace(sooner, status="sending"),
        dataclasses.replace(other, status="sending"),
    ]


async def test_same_reminder_twice_updates_instead_of_duplicating(backend):
    storage = await backend.open()
    first = await storage.add_reminder(
        "alice", 11, "patent", TODAY + 9 * DAY, TODAY + 6 * DAY, "ru"
    )
    again = await storage.add_reminder(
        "alice", 12, "patent", TODAY + 9 * DAY, TODAY + 2 * DAY, "kk"
    )
    assert again.id == first.id
    assert (again.chat_id, again.remind_on, again.lang) == (12, TODAY + 2 * DAY, "kk")
    assert len(await storage.reminders("alice")) == 1
    # another deadline is another reminder
    third = await storage.add_reminder(
        "alice", 12, "patent", TODAY + 40 * DAY, TODAY + 37 * DAY, "kk"
    )
    assert third.id != first.id


@pytest.mark.parametrize(
    ("kind", "due", "remind_on", "message"),
    [
        ("visa", TODAY, TODAY, "kind"),
        ("patent", TODAY, TODAY + DAY, "after the deadline"),
    ],
)
async def test_bad_reminders_are_refused_and_change_nothing(backend, kind, due, remind_on, message):
    storage = await backend.open()
    with pytest.raises(ValueError, match=message):
        await storage.add_reminder("alice", 11, kind, due, remind_on, "ru")
    assert await storage.reminders("alice") == []


async def test_claim_due_takes_due_pending_ones_once(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    due = [
        await storage.add_reminder(
            f"u{i}", 100 + i, "patent", TODAY + 3 * DAY, TODAY - i * DAY, "ru"
        )
        for i in range(5)
    ]
    future = await storage.add_reminder("later", 200, "stay", TODAY + 9 * DAY, TODAY + DAY, "ru")

    first = await storage.claim_due(TODAY, "w1", limit=3)
    assert [r.id for r in first] == [due[4].id, due[3].id, due[2].id]  # oldest first
    assert all(r.status == "sending" for r in first)
    second = await storage.claim_due(TODAY, "w2", limit=10)
    assert [r.id for r in second] == [due[1].id, due[0].id]
    assert await storage.claim_due(TODAY, "w3") == []

    await storage.mark_sent(first[0].id)
    await storage.release(first[1].id)
    await storage.release(first[0].id)  # already sent: stays sent
    assert [r.id for r in await storage.claim_due(TODAY, "w3")] == [first[1].id]
    assert [r.id for r in await storage.claim_due(TODAY + DAY, "w3")] == [future.id]
    assert await storage.reminders("u4") == []  # sent is no longer pending
    assert [r.id for r in await storage.reminders("u3")] == [first[1].id]  # in flight


async def test_stale_claims_return_to_the_queue(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    reminder = await storage.add_reminder("alice", 11, "patent", TODAY, TODAY, "ru")
    assert [r.id for r in await storage.claim_due(TODAY, "crashed")] == [reminder.id]
    clock.advance(seconds=50)
    assert await storage.claim_due(TODAY, "w2") == []  # still fresh: owned by "crashed"
    clock.advance(seconds=11)  # a minute without a heartbeat (issue 16: was 10 minutes)
    [again] = await storage.claim_due(TODAY, "w2")
    assert again.id == reminder.id and again.attempts == 0  # never tried: no duplicate


async def test_a_heartbeat_keeps_a_live_workers_claims(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    reminder = await storage.add_reminder("bob", 12, "stay", TODAY, TODAY, "ru")
    await storage.claim_due(TODAY, "alive")
    for _ in range(8):  # two minutes of beats every 15 s
        clock.advance(seconds=15)
        assert await storage.heartbeat("alive") == 1
        assert await storage.claim_due(TODAY, "other") == []
    clock.advance(seconds=61)  # the beats stop: the worker died
    assert [r.id for r in await storage.claim_due(TODAY, "other")] == [reminder.id]


async def test_an_interrupted_delivery_is_retried_once_never_a_third_time(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    reminder = await storage.add_reminder("carol", 13, "patent", TODAY, TODAY, "ru")
    [first] = await storage.claim_due(TODAY, "w1")
    await storage.mark_attempt(first.id)  # sending... and the worker is killed
    clock.advance(seconds=61)
    [second] = await storage.claim_due(TODAY, "w2")
    assert second.attempts == 1  # may have been sent: a possible duplicate, counted
    await storage.mark_attempt(second.id)  # killed again mid-delivery
    clock.advance(seconds=61)
    assert await storage.claim_due(TODAY, "w3") == []  # not a third time
    assert await storage.reminders("carol") == []
    del reminder


async def test_mark_blocked_stops_every_reminder_of_the_chat(backend):
    storage = await backend.open()
    a = await storage.add_reminder("alice", 11, "patent", TODAY, TODAY, "ru")
    await storage.add_reminder("alice", 11, "stay", TODAY + 9 * DAY, TODAY + 5 * DAY, "ru")
    bob = await storage.add_reminder("bob", 22, "patent", TODAY, TODAY, "ru")
    await storage.claim_due(TODAY, "w")  # a and bob's are now in flight
    assert await storage.mark_blocked(11) == 2
    assert await storage.mark_blocked(11) == 0
    assert await storage.reminders("alice") == []
    await storage.mark_sent(a.id)  # too late: blocked stays blocked
    await storage.release(bob.id)
    assert [r.id for r in await storage.claim_due(TODAY + 30 * DAY, "w")] == [bob.id]


async def test_concurrent_claims_from_two_connections_never_overlap(backend):
    one = await backend.open()
    two = await backend.open()
    for i in range(120):
        await one.add_reminder(f"u{i}", 1000 + i, "patent", TODAY, TODAY, "ru")

    async def drain(storage, worker):
        taken = []
        while batch := await storage.claim_due(TODAY, worker, limit=7):
            taken.extend(r.id for r in batch)
            await asyncio.sleep(0)
        return taken

    got = await asyncio.gather(*(drain(s, f"w{n}") for n, s in enumerate((one, two, one, two))))
    ids = [i for part in got for i in part]
    assert len(ids) == len(set(ids)) == 120


# -- privacy ------------------------------------------------------------------------


async def test_forget_leaves_no_row_for_the_user_in_any_table(backend):
    storage = await backend.open()
    key, chat = "f0rg3tme" * 4, 987_654_321
    await storage.set_language(key, "tg")
    await storage.add_feedback(key, "ru-patent", "tg", False, "savol")
    await storage.log_gap(key, "boshqa savol", "tg", "abstain")
    await storage.log_event("abstain", "tg", None)
    await storage.add_reminder(key, chat, "patent", TODAY + 5 * DAY, TODAY, "tg")
    await storage.add_reminder(key, chat, "stay", TODAY + 9 * DAY, TODAY, "tg")
    await storage.add_reminder("old-key", chat, "registration", TODAY + DAY, TODAY, "tg")
    await storage.claim_due(TODAY, "w")
    # someone else's data must survive
    await storage.set_language("keep", "ru")
    await storage.add_feedback("keep", "ru-patent", "ru", False, "keep this")
    kept = await storage.add_reminder("keep", 1, "stay", TODAY + 9 * DAY, TODAY + DAY, "ru")

    before = await backend.tables()
    assert {"languages", "feedback", "gaps", "reminders", "events"} <= set(before)
    deleted = await storage.forget(key, chat)
    assert deleted == 1 + 1 + 2 + 3  # language, vote, two gaps, three reminders

    after = await backend.tables()
    assert set(after) == set(before)
    for table, rows in after.items():
        for row in rows:
            assert key not in row and chat not in row and str(chat) not in row, (table, row)
    assert await storage.get_language(key) is None
    assert await storage.get_language("keep") == "ru"
    assert [r.id for r in await storage.reminders("keep")] == [kept.id]
    assert [g.text for g in await storage.gaps(NOW - 400 * DAY)] == ["keep this"]
    assert await storage.forget(key, chat) == 0


# -- migrations ---------------------------------------------------------------------


async def test_fresh_database_gets_the_latest_schema_and_reopen_is_a_noop(backend):
    storage = await backend.open()
    await storage.set_language("alice", "ru")
    await storage.close()
    tables = await backend.tables()
    assert [row[0] for row in tables["schema_version"]] == [m.version for m in MIGRATIONS]
    again = await backend.open()
    assert await again.get_language("alice") == "ru"
    assert (await backend.tables())["schema_version"] == tables["schema_version"]


async def _raw_apply(backend, migrations):
    """Run the migrator on a raw connection of the backend's database."""
    if isinstance(backend, SQLiteBackend):
        conn = await aiosqlite.connect(backend.path, isolation_level=None)
        try:
            return await apply_sqlite(conn, str(backend.path), migrations)
        finally:
            await conn.close()
    conn = await asyncpg.connect(backend.schema.dsn)
    try:
        return await apply_postgres(conn, backend.schema.name, migrations)
    finally:
        await conn.close()


async def test_migrations_apply_in_order_once(backend):
    sql = "CREATE TABLE later_table (x INTEGER);\nCREATE INDEX later_x ON later_table (x);\n"
    extra = Migration(LATEST + 1, "test: a new table", sqlite=sql, postgres=sql)
    if isinstance(backend, SQLiteBackend):
        backend.path.parent.mkdir(parents=True, exist_ok=True)
    assert await _raw_apply(backend, MIGRATIONS) == [m.version for m in MIGRATIONS]
    assert await _raw_apply(backend, MIGRATIONS) == []
    assert await _raw_apply(backend, (*MIGRATIONS, extra)) == [LATEST + 1]
    assert await _raw_apply(backend, (*MIGRATIONS, extra)) == []
    assert "later_table" in await backend.tables()


async def test_a_failing_migration_changes_nothing(backend):
    broken = Migration(
        LATEST + 1,
        "test: broken",
        sqlite="CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;\n",
        postgres="CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;\n",
    )
    storage = await backend.open()
    await storage.close()
    with pytest.raises(Exception, match="(?i)syntax"):
        await _raw_apply(backend, (*MIGRATIONS, broken))
    tables = await backend.tables()
    assert "half_done" not in tables
    assert max(row[0] for row in tables["schema_version"]) == LATEST


async def test_a_newer_database_is_refused(backend):
    storage = await backend.open()
    await storage.close()
    future = Migration(LATEST + 5, "from the future", sqlite="SELECT 1;\n", postgres="SELECT 1;\n")
    await _raw_apply(backend, (*MIGRATIONS, future))
    with pytest.raises(StorageError, match=rf"schema version {LATEST + 5}.*upgrade migrant-bot"):
        await backend.open()


# -- factory and failures -----------------------------------------------------------


def _settings(tmp_path, url=""):
    return Settings(_env_file=None, data_dir=tmp_path / "var", database_url=url)


def test_factory_defaults_to_sqlite_in_data_dir(tmp_path):
    storage = open_storage(_settings(tmp_path))
    assert isinstance(storage, SQLiteStorage)
    assert storage.path == tmp_path / "var" / "bot.sqlite"
    assert storage.path.parent.is_dir()


def test_factory_reads_sqlite_and_postgres_urls(tmp_path):
    target = tmp_path / "elsewhere" / "db.sqlite"
    storage = open_storage(_settings(tmp_path, f"sqlite:///{target}"))
    assert isinstance(storage, SQLiteStorage) and storage.path == target
    assert target.parent.is_dir()
    for url in ("postgresql://bot@db.internal:5433/migrants", "postgres://bot@db.internal/m"):
        assert isinstance(open_storage(_settings(tmp_path, url)), PostgresStorage)


@pytest.mark.parametrize("url", ["mysql://root@localhost/bot", "bot.sqlite", "sqlite:///"])
def test_factory_refuses_other_urls_naming_the_variable(tmp_path, url):
    with pytest.raises(StorageError, match="DATABASE_URL.*Accepted forms"):
        open_storage(_settings(tmp_path, url))


async def test_unreachable_postgres_is_reported_with_host_and_what_to_check():
    storage = PostgresStorage("postgresql://bot:s3cret@127.0.0.1:1/migrants", connect_timeout=3)
    with pytest.raises(StorageUnavailable) as info:
        await storage.open()
    message = str(info.value)
    assert "127.0.0.1:1/migrants" in message and "running" in message
    assert "s3cret" not in message


async def test_missing_postgres_database_is_named():
    schema = await PgSchema.create()  # proves the server is there
    await schema.drop()
    parts = urlsplit(PG_DSN)
    storage = PostgresStorage(urlunsplit(parts._replace(path="/no_such_db_mbt")))
    with pytest.raises(StorageUnavailable, match="does not exist"):
        await storage.open()


async def test_unusable_sqlite_path_is_reported(tmp_path):
    (tmp_path / "adir").mkdir()
    with pytest.raises(StorageUnavailable, match="adir"):
        await SQLiteStorage(tmp_path / "adir").open()


async def test_not_a_database_file_is_reported(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(StorageError, match="junk.sqlite"):
        await SQLiteStorage(path).open()


async def test_calls_before_open_fail_clearly(tmp_path):
    with pytest.raises(StorageError, match="not open"):
        await SQLiteStorage(tmp_path / "x.sqlite").get_language("a")
