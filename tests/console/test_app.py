"""The staff console over HTTP (Starlette's TestClient, the real app, real files, real
SQLite): who may do what, CSRF, conflicts, validation, review, gaps to paraphrases."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.console.accounts import AccountStore
from bot.console.app import create_app
from bot.console.auth import SESSION_COOKIE
from bot.knowledge.editing import apply_fields, read_fields
from bot.knowledge.validation import check_entry_text
from bot.storage.factory import open_storage

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(settings) -> AccountStore:
    store = AccountStore(settings.data_dir)
    store.add("editor1", "editor", PASSWORD)
    store.add("lawyer1", "reviewer", PASSWORD)
    return store


@pytest.fixture
def client(settings, accounts):
    with TestClient(create_app(settings), base_url="http://console.test") as c:
        yield c


def sign_in(client: TestClient, name: str = "editor1", password: str = PASSWORD):
    return client.post(
        "/login", data={"name": name, "password": password, "next": "/"}, follow_redirects=False
    )


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def base_of(page: str) -> str:
    found = re.search(r'name="base" value="([0-9a-f]{64})"', page)
    assert found
    return found.group(1)


def form_of(settings, entry_id: str) -> dict[str, str]:
    """The entry form as the browser would send it, from the file (`_ID.yaml` for a new
    entry not in the knowledge base yet)."""
    path = settings.kb_dir / f"{entry_id}.yaml"
    if not path.exists():
        path = settings.kb_dir / f"_{entry_id}.yaml"
    fields = read_fields(path.read_text("utf-8"))
    data = {"as_of": fields.as_of, "review_by": fields.review_by}
    for lang, t in fields.text.items():
        data[f"{lang}.title"] = t.title
        data[f"{lang}.short"] = t.short
        data[f"{lang}.answer"] = t.answer
        data[f"{lang}.questions"] = "\n".join(t.questions)
        data[f"{lang}.not_about"] = "\n".join(t.not_about)
    for i, source in enumerate(fields.sources):
        data[f"source{i}.title"] = source.title
        data[f"source{i}.url"] = source.url
        data[f"source{i}.supports"] = source.supports
        for lang, title in source.titles.items():
            data[f"source{i}.{lang}"] = title
    return data


def open_entry(client, settings, entry_id="patent-payment") -> dict[str, str]:
    page = client.get(f"/entries/{entry_id}")
    assert page.status_code == 200
    return {**form_of(settings, entry_id), "csrf": csrf_of(page.text), "base": base_of(page.text)}


def test_nothing_without_signing_in(client, settings):
    page = client.get("/entries", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    before = (settings.kb_dir / "patent-payment.yaml").read_text("utf-8")
    for path in ("/entries/patent-payment", "/publish", "/gaps/paraphrase"):
        assert client.post(path, data={"csrf": "x"}).status_code == 403
    assert (settings.kb_dir / "patent-payment.yaml").read_text("utf-8") == before


def test_sign_in_checks_the_password_and_limits_guessing(client):
    assert sign_in(client, password="wrong password").status_code == 401
    assert SESSION_COOKIE not in client.cookies
    for _ in range(5):
        sign_in(client, password="still wrong")
    locked = sign_in(client)  # the right password, but too many failures first
    assert locked.status_code == 429
    assert sign_in(client, "lawyer1").status_code == 303  # other accounts are not locked


def test_a_forged_cookie_and_a_revoked_session_are_refused(client, accounts):
    assert sign_in(client).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    good = client.cookies[SESSION_COOKIE]
    payload, _sep, signature = good.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, forged)
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, good)
    assert client.get("/", follow_redirects=False).status_code == 200
    accounts.sign_out_everywhere("editor1")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_post_without_the_csrf_token_or_from_another_site_changes_nothing(client, settings):
    sign_in(client)
    data = open_entry(client, settings)
    data["ru.title"] = "Новый заголовок"
    path = settings.kb_dir / "patent-payment.yaml"
    before = path.read_text("utf-8")
    assert (
        client.post("/entries/patent-payment", data={**data, "csrf": "forged"}).status_code == 403
    )
    other = client.post(
        "/entries/patent-payment", data=data, headers={"Origin": "https://evil.example"}
    )
    assert other.status_code == 403
    assert path.read_text("utf-8") == before
    saved = client.post("/entries/patent-payment", data=data, follow_redirects=False)
    assert saved.status_code == 303
    assert "title: Новый заголовок" in path.read_text("utf-8")


def test_save_writes_two_languages_keeps_the_rest_and_logs_role_not_name(client, settings):
    sign_in(client)
    data = open_entry(client, settings)
    path = settings.kb_dir / "patent-payment.yaml"
    before = path.read_text("utf-8").splitlines()
    data["ru.short"] = "Платите до начала следующего месяца.\r\nХраните чеки."
    data["kk.title"] = "Патент төлемі"
    assert (
        client.post("/entries/patent-payment", data=data, follow_redirects=False).status_code == 303
    )
    after = path.read_text("utf-8")
    fields = read_fields(after)
    assert fields.text["ru"].short == "Платите до начала следующего месяца.\nХраните чеки."
    assert fields.text["kk"].title == "Патент төлемі"
    assert "status: draft" in after  # it was reviewed: a changed entry needs a new review
    changed = [line for line in after.splitlines() if line not in before]
    assert len(changed) <= 5, changed
    log = (settings.data_dir / "console" / "changes.jsonl").read_text("utf-8")
    row = json.loads(log.splitlines()[-1])
    assert row["action"] == "save" and row["role"] == "editor"
    assert "kk.title" in row["detail"] and "ru.short" in row["detail"]
    assert "editor1" not in log


def test_an_invalid_entry_is_not_saved_and_says_what_to_fix(client, settings):
    sign_in(client)
    data = open_entry(client, settings)
    data["ru.answer"] = ""
    data["kk.short"] = "x" * 700  # over the limit: a warning, shown, not blocking
    path = settings.kb_dir / "patent-payment.yaml"
    before = path.read_text("utf-8")
    page = client.post("/entries/patent-payment", data=data)
    assert page.status_code == 422
    assert path.read_text("utf-8") == before
    # kb check's own findings on the same edit, each shown with its message
    fields = read_fields(before)
    edited = dataclasses.replace(
        fields,
        text={
            **fields.text,
            "ru": dataclasses.replace(fields.text["ru"], answer=""),
            "kk": dataclasses.replace(fields.text["kk"], short="x" * 700),
        },
    )
    found = check_entry_text(apply_fields(before, edited), str(path))
    assert {p.severity for p in found} == {"error", "warning"}
    for problem in found:
        assert html.escape(problem.message, quote=False) in page.text, problem


def test_the_live_check_shows_problems_and_the_telegram_preview(client, settings):
    sign_in(client)
    data = open_entry(client, settings)
    data["uz.short"] = "Patentni oldindan toʻlang."
    page = client.post(
        "/entries/patent-payment/check", data=data, headers={"X-CSRF-Token": data["csrf"]}
    )
    assert page.status_code == 200
    assert "No problems" in page.text
    assert "Patentni oldindan toʻlang." in page.text
    assert "Патентни олдиндан тўланг." in page.text  # Uzbek in Cyrillic as well
    data["en.title"] = ""
    page = client.post(
        "/entries/patent-payment/check", data=data, headers={"X-CSRF-Token": data["csrf"]}
    )
    assert "text.en.title" in page.text


def test_a_file_changed_meanwhile_is_not_overwritten(client, settings):
    sign_in(client)
    data = open_entry(client, settings)
    path = settings.kb_dir / "patent-payment.yaml"
    theirs = path.read_text("utf-8").replace("Оплата патента на работу", "Оплата патента (их)")
    path.write_text(theirs, "utf-8")
    data["ru.title"] = "Оплата патента (мой)"
    page = client.post("/entries/patent-payment", data=data)
    assert page.status_code == 409
    assert "someone else changed this entry" in page.text
    assert "Оплата патента (их)" in page.text and "Оплата патента (мой)" in page.text
    assert path.read_text("utf-8") == theirs
    # Saving again from the conflict page (its base is the file now) is a deliberate choice.
    again = client.post(
        "/entries/patent-payment", data={**data, "base": base_of(page.text)}, follow_redirects=False
    )
    assert again.status_code == 303
    assert "Оплата патента (мой)" in path.read_text("utf-8")


def test_only_a_reviewer_marks_an_entry_reviewed(client, settings):
    sign_in(client)
    page = client.get("/entries/kz-stay")
    review = {"csrf": csrf_of(page.text), "by": "lawyer", "source": "https://adilet.zan.kz/x"}
    assert "Mark reviewed" not in page.text
    assert client.post("/entries/kz-stay/review", data=review).status_code == 403
    client.cookies.clear()
    sign_in(client, "lawyer1")
    page = client.get("/entries/kz-stay")
    review["csrf"] = csrf_of(page.text)
    review["base"] = base_of(page.text)
    path = settings.kb_dir / "kz-stay.yaml"
    path.write_text(path.read_text("utf-8") + "\n", "utf-8")  # changed since it was read
    stale = client.post("/entries/kz-stay/review", data=review)
    assert stale.status_code == 409 and "adilet.zan.kz/x" not in path.read_text("utf-8")
    review["base"] = base_of(client.get("/entries/kz-stay").text)
    done = client.post("/entries/kz-stay/review", data=review, follow_redirects=False)
    assert done.status_code == 303
    text = (settings.kb_dir / "kz-stay.yaml").read_text("utf-8")
    assert "status: reviewed" in text and "source: https://adilet.zan.kz/x" in text
    review["base"] = base_of(client.get("/entries/kz-stay").text)
    bad = client.post("/entries/kz-stay/review", data={**review, "source": "not a url"})
    assert bad.status_code == 422 and "web address" in bad.text
    named = client.post("/entries/kz-stay/review", data={**review, "by": "Ivan Petrov 2"})
    assert named.status_code == 422 and "not a name" in named.text


def test_a_gap_becomes_a_paraphrase_in_one_step(built, client, settings):
    async def seed():
        storage = open_storage(settings)
        await storage.open()
        await storage.log_gap("k1", "патент оплата через госуслуги можно", "ru", "abstain")
        await storage.log_gap("k2", "патент оплата через госуслуги можно", "ru", "abstain")
        await storage.close()

    asyncio.run(seed())
    sign_in(client)
    page = client.get("/gaps")
    assert page.status_code == 200
    assert "2×</b> патент оплата через госуслуги можно" in page.text
    data = {
        "csrf": csrf_of(page.text),
        "from": "gap",
        "entry": "patent-payment",
        "lang": "ru",
        "text": "можно оплатить патент через госуслуги",
        "gap": "патент оплата через госуслуги можно\x1fru",
    }
    done = client.post("/gaps/paraphrase", data=data, follow_redirects=False)
    assert done.status_code == 303
    fields = read_fields((settings.kb_dir / "patent-payment.yaml").read_text("utf-8"))
    assert "можно оплатить патент через госуслуги" in fields.text["ru"].questions
    assert "госуслуги можно" not in client.get("/gaps").text

    async def seed_more():
        storage = open_storage(settings)
        await storage.open()
        await storage.log_gap("k3", "шенгенская виза для граждан узбекистана", "ru", "abstain")
        await storage.close()

    asyncio.run(seed_more())
    page = client.get("/gaps")
    assert "шенгенская виза" in page.text
    gone = client.post(
        "/gaps/dismiss",
        data={"csrf": csrf_of(page.text), "gap": "шенгенская виза для граждан узбекистана\x1fru"},
        follow_redirects=False,
    )
    assert gone.status_code == 303 and "шенгенская виза" not in client.get("/gaps").text


def test_unknown_entries_and_bad_ids_are_a_clear_404(client):
    sign_in(client)
    assert client.get("/entries/no-such-entry").status_code == 404
    assert client.get("/entries/..%2f..%2fetc%2fpasswd").status_code == 404


def test_the_entry_list_filters(client, settings):
    sign_in(client)
    everything = client.get("/entries").text
    assert "patent-payment" in everything and "kz-stay" in everything
    kz = client.get("/entries", params={"country": "kz"}).text
    assert "kz-stay" in kz and "/entries/patent-payment" not in kz
    assert "/entries/patent-payment" not in client.get("/entries", params={"q": "казахстан"}).text


def test_accounts_file_keeps_no_password(settings, accounts):
    text = Path(accounts.path).read_text("utf-8")
    assert PASSWORD not in text and "scrypt$" in text
    assert accounts.check("editor1", PASSWORD) is not None
    assert accounts.check("editor1", PASSWORD + "x") is None
    assert accounts.check("nobody", PASSWORD) is None


def test_sources_are_added_and_removed_from_the_form(client, settings):
    sign_in(client)
    data = open_entry(client, settings)
    n = len(read_fields((settings.kb_dir / "patent-payment.yaml").read_text("utf-8")).sources)
    data[f"source{n}.title"] = "Federal Law 115-FZ, art. 13.3"
    data[f"source{n}.url"] = "http://pravo.gov.ru/proxy/ips/?docbody=&nd=102078147"
    data[f"source{n}.supports"] = "the patent and its payment"
    for lang in ("ru", "kk", "uz", "ky", "tg", "en"):
        data[f"source{n}.{lang}"] = f"115-FZ ({lang})"
    assert (
        client.post("/entries/patent-payment", data=data, follow_redirects=False).status_code == 303
    )
    sources = read_fields((settings.kb_dir / "patent-payment.yaml").read_text("utf-8")).sources
    assert len(sources) == n + 1 and sources[-1].titles["tg"] == "115-FZ (tg)"
    data = open_entry(client, settings)
    data["source0.remove"] = "1"
    assert (
        client.post("/entries/patent-payment", data=data, follow_redirects=False).status_code == 303
    )
    after = read_fields((settings.kb_dir / "patent-payment.yaml").read_text("utf-8")).sources
    assert [s.url for s in after] == [s.url for s in sources[1:]]


def test_a_gap_starts_a_new_entry_outside_the_base_until_it_is_complete(built, client, settings):
    async def seed():
        storage = open_storage(settings)
        await storage.open()
        await storage.log_gap("k1", "можно ли работать курьером по патенту", "ru", "abstain")
        await storage.close()

    asyncio.run(seed())
    sign_in(client)
    page = client.get("/gaps")
    data = {
        "csrf": csrf_of(page.text),
        "from": "gap",
        "id": "ru-courier",
        "country": "ru",
        "lang": "ru",
        "text": "можно ли работать курьером по патенту",
        "gap": "можно ли работать курьером по патенту\x1fru",
    }
    started = client.post("/gaps/new-entry", data=data, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith(
        "/entries/ru-courier"
    )
    assert (settings.kb_dir / "_ru-courier.yaml").exists()
    assert not (settings.kb_dir / "ru-courier.yaml").exists()
    again = client.post("/gaps/new-entry", data=data)
    assert again.status_code == 422 and "exists already" in again.text
    page = client.get("/entries/ru-courier")
    assert "New entry, not in the knowledge base yet" in page.text
    refused = client.post("/entries/ru-courier/add", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 422 and not (settings.kb_dir / "ru-courier.yaml").exists()

    form = open_entry(client, settings, "ru-courier")
    for lang in ("ru", "kk", "uz", "ky", "tg", "en"):
        form[f"{lang}.title"] = f"Courier work ({lang})"
        form[f"{lang}.short"] = f"Short answer in {lang}: a patent allows courier work."
        form[f"{lang}.answer"] = f"Full answer in {lang}: a patent allows courier work."
        form[f"{lang}.questions"] = "\n".join(f"courier question {i} {lang}" for i in range(3))
        form[f"source0.{lang}"] = f"Law 115-FZ ({lang})"
    form["ru.questions"] = "можно ли работать курьером по патенту\n" + form["ru.questions"]
    form["source0.title"] = "Federal Law 115-FZ"
    form["source0.url"] = "http://pravo.gov.ru/proxy/ips/?docbody=&nd=102078147"
    form["source0.supports"] = "work under a patent"
    saved = client.post("/entries/ru-courier", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:3000]
    page = client.get("/entries/ru-courier")
    added = client.post(
        "/entries/ru-courier/add", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert added.status_code == 303, client.get("/entries/ru-courier").text[:3000]
    assert (settings.kb_dir / "ru-courier.yaml").exists()
    assert not (settings.kb_dir / "_ru-courier.yaml").exists()


def test_a_failed_publish_says_why_and_the_service_keeps_its_version(built, client, settings):
    from bot.retrieval.index import current_version_name

    before = current_version_name(settings.index_dir)
    broken = settings.kb_dir / "kz-stay.yaml"
    broken.write_text(broken.read_text("utf-8").replace("country: kz", "country: mars"), "utf-8")
    sign_in(client)
    page = client.get("/publish")
    assert client.post("/publish", data={"csrf": csrf_of(page.text)}).status_code == 200
    state = client.app.state.console.publisher.wait(120)
    assert state.state == "failed", state
    assert "kz-stay.yaml" in state.message and "country" in state.message
    assert current_version_name(settings.index_dir) == before
    shown = client.get("/publish/state").text
    assert "Not published" in shown and "kz-stay.yaml" in shown


def test_a_removed_account_added_again_does_not_revive_old_sessions(client, accounts):
    sign_in(client)
    old = client.cookies[SESSION_COOKIE]
    accounts.remove("editor1")
    accounts.add("editor1", "reviewer", PASSWORD + "!")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_huge_or_unexpected_bodies_are_refused_before_they_are_read(client):
    big = client.post(
        "/login",
        content=b"name=" + b"x" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    upload = client.post("/login", files={"f": ("a.bin", b"0" * 1000)})
    assert upload.status_code == 415
    sign_in(client)
    page = client.get("/")
    odd = client.post("/publish", data={"csrf": "é" + csrf_of(page.text)})
    assert odd.status_code == 403


def test_pasted_line_separators_are_plain_line_breaks_and_the_entry_opens_again(client, settings):
    sign_in(client)
    data = open_entry(client, settings, "kz-stay")
    data["ru.short"] = "Первая строка:\u2028вторая строка\x85третья"
    assert client.post("/entries/kz-stay", data=data, follow_redirects=False).status_code == 303
    assert client.get("/entries/kz-stay").status_code == 200
    short = read_fields((settings.kb_dir / "kz-stay.yaml").read_text("utf-8")).text["ru"].short
    assert short == "Первая строка:\nвторая строка\nтретья"


def test_a_file_the_console_cannot_edit_gets_a_message_not_a_crash(client, settings):
    (settings.kb_dir / "kz-stay.yaml").write_text("id: kz-stay\ncountry: [\n", "utf-8")
    sign_in(client)
    page = client.get("/entries/kz-stay")
    assert page.status_code in (404, 422)  # not in the base any more, or not editable
    (settings.kb_dir / "consulate-help.yaml").write_bytes(b"id: consulate-help\n\xff\xfe\n")
    page = client.get("/entries/consulate-help")
    assert page.status_code == 422 and "not UTF-8" in page.text


def test_saving_keeps_crlf_and_leaves_no_lock_files_among_the_entries(client, settings):
    path = settings.kb_dir / "patent-payment.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    sign_in(client)
    data = open_entry(client, settings)
    data["en.title"] = "Paying for the work patent"
    assert (
        client.post("/entries/patent-payment", data=data, follow_redirects=False).status_code == 303
    )
    raw = path.read_bytes()
    assert b"Paying for the work patent" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    assert not [p.name for p in settings.kb_dir.iterdir() if p.name.endswith(".lock")]


def test_two_console_workers_share_sessions_files_and_a_postgresql_database(
    built, settings, accounts
):
    """The scaled deployment: two console processes (here two apps) behind one proxy,
    sharing DATA_DIR, KB_DIR and PostgreSQL."""
    from tests.support.storage_backends import PgSchema, skip_pg

    if skip_pg():
        pytest.skip("MIGRANT_BOT_SKIP_PG=1")

    async def create() -> tuple[str, str]:
        schema = await PgSchema.create()
        await schema.conn.close()
        return schema.name, schema.dsn

    async def drop(name: str) -> None:
        from tests.support.storage_backends import pg_admin

        conn = await pg_admin()
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    name, dsn = asyncio.run(create())
    shared = settings.model_copy(update={"database_url": dsn})

    async def seed():
        storage = open_storage(shared)
        await storage.open()
        await storage.log_gap("k1", "патент оплатить через телефон можно ли", "ru", "abstain")
        await storage.close()

    try:
        asyncio.run(seed())
        with (
            TestClient(create_app(shared), base_url="http://console.test") as one,
            TestClient(create_app(shared), base_url="http://console.test") as two,
        ):
            sign_in(one)
            two.cookies.set(SESSION_COOKIE, one.cookies[SESSION_COOKIE])
            assert two.get("/", follow_redirects=False).status_code == 200  # same secret
            stale = open_entry(two, settings)  # worker two's form, opened first
            mine = open_entry(one, settings)
            mine["ru.title"] = "Оплата патента (сохранено первым)"
            assert (
                one.post("/entries/patent-payment", data=mine, follow_redirects=False).status_code
                == 303
            )
            stale["ru.title"] = "Оплата патента (второй)"
            assert two.post("/entries/patent-payment", data=stale).status_code == 409
            page = two.get("/gaps")
            assert "патент оплатить через телефон можно ли" in page.text
            added = two.post(
                "/gaps/paraphrase",
                data={
                    "csrf": csrf_of(page.text),
                    "from": "gap",
                    "entry": "patent-payment",
                    "lang": "ru",
                    "text": "можно ли оплатить патент через телефон",
                    "gap": "патент оплатить через телефон можно ли\x1fru",
                },
                follow_redirects=False,
            )
            assert added.status_code == 303 and "unmarked" not in added.headers["location"]
            assert "через телефон можно ли" not in one.get("/gaps").text
    finally:
        asyncio.run(drop(name))


def test_a_damaged_accounts_file_is_a_clear_503_not_a_crash(client, accounts, caplog):
    Path(accounts.path).write_text('[{"name": "editor1", "unknown": 1}]', "utf-8")
    page = client.post("/login", data={"name": "editor1", "password": PASSWORD})
    assert page.status_code == 503 and "whoever runs the console" in page.text
    assert "accounts.json is damaged" in caplog.text and "accounts.json" not in page.text


def test_publish_state_is_running_as_soon_as_start_returns(settings):
    """The page shown right after "Publish now" reads the state from disk: it must
    already say running, or the page would not follow the build (seen under load)."""
    import threading

    from bot.console.publishing import Publisher

    release = threading.Event()

    def slow_build(_settings, report):
        release.wait(30)
        return "built"

    publisher = Publisher(settings, build=slow_build)
    other = Publisher(settings, build=slow_build)  # another console worker
    try:
        assert publisher.start("editor", "k1")
        assert publisher.state().state == "running"
        assert not other.start("editor", "k2")  # one publish at a time across workers
        assert other.state().state == "running"
    finally:
        release.set()
    done = publisher.wait(30)
    assert done.state == "done" and done.message == "built"
