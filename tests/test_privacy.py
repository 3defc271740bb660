"""Salted user keys, the salt file, and anonymisation of question texts."""

from __future__ import annotations

import os
import stat
import string
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.privacy import MAX_TEXT, anonymise, mask_personal, salt_from, user_key
from bot.settings import Settings


def test_user_key_is_stable_for_one_salt_and_differs_across_salts_and_users():
    key = user_key(123456789, "salt-a")
    assert key == user_key(123456789, "salt-a")
    assert key != user_key(123456789, "salt-b")
    assert key != user_key(123456780, "salt-a")
    assert len(key) == 32 and set(key) <= set(string.hexdigits.lower())
    assert "123456789" not in key


def test_user_key_needs_a_salt():
    with pytest.raises(ValueError, match="USER_HASH_SALT"):
        user_key(1, "")


def _settings(tmp_path, **values):
    return Settings(_env_file=None, data_dir=tmp_path / "var", **values)


def test_configured_salt_wins_and_no_file_is_written(tmp_path):
    assert salt_from(_settings(tmp_path, user_hash_salt="from-env")) == "from-env"
    assert not (tmp_path / "var" / "salt").exists()


def test_generated_salt_is_private_and_reused(tmp_path):
    settings = _settings(tmp_path)
    salt = salt_from(settings)
    path = tmp_path / "var" / "salt"
    assert len(salt) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert salt_from(settings) == salt
    assert salt_from(_settings(tmp_path, user_hash_salt="")) == salt  # empty = not set
    assert salt_from(_settings(tmp_path / "other")) != salt
    assert [p.name for p in path.parent.iterdir()] == ["salt"]  # no temporary files left


def test_processes_starting_together_agree_on_one_salt(tmp_path):
    settings = _settings(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        salts = set(pool.map(lambda _: salt_from(settings), range(16)))
    assert len(salts) == 1


def test_too_open_salt_file_is_tightened(tmp_path):
    settings = _settings(tmp_path)
    salt = salt_from(settings)
    path = tmp_path / "var" / "salt"
    os.chmod(path, 0o644)
    assert salt_from(settings) == salt
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_empty_salt_file_is_refused_with_advice(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "salt").write_text("\n")
    with pytest.raises(ValueError, match="USER_HASH_SALT"):
        salt_from(_settings(tmp_path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("пишите на ivan.petrov+bot@mail.ru пожалуйста", "пишите на <email> пожалуйста"),
        ("мой номер +7 (912) 345-67-89", "мой номер <phone>"),
        ("звоните 8 912 345 67 89 вечером", "звоните <phone> вечером"),
        ("tel +998901234567", "tel <phone>"),
        ("pasport AA1234567 yo'qoldi", "pasport <id> yo'qoldi"),
        ("паспорт FA 1234567 потерян", "паспорт <id> потерян"),
        ("ID N12345678, patent 77ab12345", "ID <id>, patent <id>"),
        ("see https://example.org/path?id=5 and www.example.com", "see <url> and <url>"),
        ("канал t.me/somechannel", "канал <url>"),
        ("напишите @ivan_petrov_99", "напишите <user>"),
        ("живу тут 3 года, с 12.05.2023", "живу тут # года, с ##.##.####"),
        ("٣ ５ ² ₇", "# # # #"),
        ("  много \n\t пробелов  ", "много пробелов"),
        ("сколько стоит патент", "сколько стоит патент"),
    ],
)
def test_anonymise_strips_each_kind(text, expected):
    assert anonymise(text) == expected


def test_anonymise_truncates_without_half_words_from_huge_input():
    text = "слово " * 2000 + "secret@example.com"
    out = anonymise(text)
    assert len(out) <= MAX_TEXT
    assert "secret" not in out
    assert anonymise("x" * 5000) == "x" * MAX_TEXT


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_digit_survives_and_anonymise_is_idempotent(text):
    out = anonymise(text)
    assert not any(ch.isdigit() or ch.isnumeric() for ch in out)
    assert len(out) <= MAX_TEXT
    assert anonymise(out) == out


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["патент", "ish", "how", "где", "visa"]), max_size=4),
    st.emails(),
    st.from_regex(r"\+7 ?\(?9\d\d\)? ?\d{3}-?\d\d-?\d\d", fullmatch=True),
)
def test_contacts_never_survive(words, email, phone):
    out = anonymise(" ".join([*words, email, "или", phone]))
    assert "@" not in out
    assert "<email>" in out and "<phone>" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("паспорт FA 1234567 у работодателя", "паспорт <id> у работодателя"),
        ("tel +998 90 123 45 67, a.b@mail.ru", "tel <phone>, <email>"),
        ("пишите @ivan_k", "пишите <user>"),
        # what a consultant needs stays: dates, sums, days
        (
            "приехал 12.03, плачу 8000 руб, прошло 95 дней",
            "приехал 12.03, плачу 8000 руб, прошло 95 дней",
        ),
    ],
)
def test_mask_personal_hides_contacts_and_documents_but_keeps_facts(text, expected):
    assert mask_personal(text) == expected
    assert mask_personal(expected) == expected  # idempotent
