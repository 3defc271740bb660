import json

import pytest

from bot.retrieval.countries import mentioned_countries, other_country
from bot.retrieval.language import (
    CYRILLIC,
    NGRAM_FILE,
    NgramModel,
    count_ngrams,
    detect_language,
    ngram_model,
)
from bot.retrieval.normalize import fold_letters, normalize, script_of, tokens
from bot.retrieval.queries import clause_variants, clauses, query_variants, searched
from bot.retrieval.transliterate import (
    ru_latin_to_cyrillic,
    uz_cyrillic_to_latin,
    uz_latin_to_cyrillic,
)


@pytest.mark.parametrize(
    "raw",
    ["O‘zbekiston", "Oʻzbekiston", "O’zbekiston", "O`zbekiston", "O'zbekiston", "Oʼzbekiston"],
)
def test_uzbek_apostrophes_become_one(raw):
    assert normalize(raw) == "o'zbekiston"


def test_normalize_strips_invisible_and_control_characters_and_folds_case():
    assert normalize("  Ре\u200bгистрация\u00ad \x07 ЁЛКА\n\tтут ") == "регистрация елка тут"


def test_normalize_unifies_unicode_forms():
    decomposed = "й"  # и + combining breve
    assert normalize(decomposed) == "й"


def test_tokens_keep_uzbek_apostrophe_inside_words():
    assert tokens("Ro‘yxatdan o'tish, qancha?") == ["ro'yxatdan", "o'tish", "qancha"]


def test_scripts():
    assert script_of("как дела") == "cyrl"
    assert script_of("kak dela") == "latn"
    assert script_of("123 ???") == "other"


def test_latin_russian_is_read_as_cyrillic():
    assert ru_latin_to_cyrillic("skolko dney") == "сколко дней"
    assert ru_latin_to_cyrillic("zhit bez registracii") == "жит без регистрации"


def test_uzbek_cyrillic_to_latin():
    assert uz_cyrillic_to_latin("рўйхатдан ўтиш қанча") == "ro'yxatdan o'tish qancha"
    assert uz_cyrillic_to_latin("ер") == "yer"


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        # hand-checked Uzbek Cyrillic; an address, with or without its scheme, stays
        (
            "Telefonni faqat gov.uz/en/migration saytidan oling.",
            "Телефонни фақат gov.uz/en/migration сайтидан олинг.",
        ),
        ("mfa.uz yoki mfa.gov.kg, keyin soʻrang", "mfa.uz ёки mfa.gov.kg, кейин сўранг"),
        ("https://migration.tj. Oʻqing.", "https://migration.tj. Ўқинг."),
        ("F.I.Sh. va sanalarni tekshiring", "Ф.И.Ш. ва саналарни текширинг"),
        ("103 ga qoʻngʻiroq qiling, tongda", "103 га қўнғироқ қилинг, тонгда"),
    ],
)
def test_uzbek_latin_to_cyrillic_keeps_addresses(latin, cyrillic):
    assert uz_latin_to_cyrillic(latin) == cyrillic


def test_uzbek_cyrillic_html_converts_link_texts_not_tags():
    html = '<a href="https://x.uz/a">Patent toʻlovi</a> — <b>qonun</b> &amp; mfa.uz'
    assert uz_latin_to_cyrillic(html, html=True) == (
        '<a href="https://x.uz/a">Патент тўлови</a> — <b>қонун</b> &amp; mfa.uz'
    )


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("сколько дней можно находиться в россии без визы", "ru"),
        ("Здравствуйте, где сделать регистрацию?", "ru"),
        ("Ресейде визасыз қанша күн тұруға болады", "kk"),
        ("ресейде тиркеу канша кунде керек", "kk"),
        ("Rossiyada vizasiz necha kun turish mumkin?", "uz"),
        ("patentni qanday to‘layman", "uz"),
        ("Россияда визасиз неча кун туриш мумкин", "uz"),
        ("патент учун тўлов қанча", "uz"),
        ("Орусияда визасыз канча күн жүрсө болот", "ky"),
        ("каттоо мөөнөтү канча күн", "ky"),
        ("Дар Русия бе раводид чанд рӯз будан мумкин?", "tg"),
        ("патентро чӣ тавр пардохт кунам", "tg"),
        ("How long can I stay in Russia without a visa?", "en"),
        ("my landlord refuses to register me", "en"),
    ],
)
def test_detects_the_six_languages(text, lang):
    assert detect_language(text).lang == lang


@pytest.mark.parametrize(
    "text",
    ["skolko dney mozhno byt v rossii bez vizy", "gde sdelat registraciyu", "kak oplatit patent"],
)
def test_detects_latin_script_russian(text):
    detected = detect_language(text)
    assert detected.lang == "ru"
    assert detected.latin_russian


def test_hint_breaks_a_tie_but_does_not_override_clear_evidence():
    assert detect_language("патент", hint="uz").lang == "uz"
    assert detect_language("сколько дней можно жить", hint="en").lang == "ru"


def test_no_letters_falls_back_to_hint_or_russian():
    assert detect_language("12.03.2026").lang == "ru"
    assert detect_language("👍👍", hint="kk").lang == "kk"


def test_query_variants_add_the_knowledge_base_script():
    ru = detect_language("kak oplatit patent")
    assert query_variants("kak oplatit patent", ru) == ["kak oplatit patent", "как оплатит патент"]
    uz = detect_language("патент учун тўлов қанча")
    assert query_variants("патент учун тўлов қанча", uz)[1] == "patent uchun to'lov qancha"
    en = detect_language("pay my patent")
    assert query_variants("Pay my patent", en) == ["pay my patent"]


@pytest.mark.parametrize(
    ("text", "countries"),
    [
        ("сколько дней можно в России", {"ru"}),
        ("Qozog‘istonda propiska qancha kunda", {"kz"}),
        ("дар Қазоқистон чанд рӯз", {"kz"}),
        ("ресейде тіркеу", {"ru"}),
        ("kazakhstan citizen working in russia", {"ru", "kz"}),
        ("how do I pay for the patent", set()),
    ],
)
def test_mentioned_countries(text, countries):
    assert mentioned_countries(text) == countries


@pytest.mark.parametrize(
    ("text", "countries"),
    [
        ("пули патент дар Маскав моҳе чанд", {"ru"}),  # Tajik for Moscow
        ("Мәскеуде патент", {"ru"}),  # Kazakh for Moscow
        ("rabotat v maskve", {"ru"}),
        ("тажик досум москвада иштейт", {"tj", "ru"}),  # nationality names the origin
        ("tojikistonda migrantlar uchun markaz", {"tj"}),
        ("qirg'iz fuqarosi qozog'istonda", {"kg", "kz"}),
        ("Ўзбекистон фуқароси", {"uz"}),
    ],
)
def test_mentioned_countries_cities_and_countries_of_origin(text, countries):
    assert mentioned_countries(text) == countries


def test_other_country_for_countries_of_stay():
    assert other_country("kz", {"ru"})
    assert not other_country("ru", {"ru"})
    assert not other_country("kz", {"ru", "kz"})  # citizen of one, working in the other
    assert not other_country("ru", {"tj"})  # a nationality says nothing about the stay
    assert not other_country("ru", set())
    assert not other_country("any", {"kz"})


def test_other_country_for_countries_of_origin():
    # naming the destination rules out the services of countries of origin...
    assert other_country("tj", {"ru"})
    # ...but not those of the country also named
    assert not other_country("tj", {"tj", "ru"})
    assert other_country("uz", {"tj", "ru"})
    # with no country named, the language of the question stands for the origin
    assert other_country("tj", set(), lang="uz")
    assert not other_country("uz", set(), lang="uz")
    assert not other_country("tj", set(), lang="ru")  # Russian says nothing about origin
    assert not other_country("kg", {"kg"}, lang="uz")  # a named country beats the language


@pytest.mark.parametrize(
    ("typed", "proper"),
    [
        ("тиркеу", "тіркеу"),  # Kazakh without і
        ("казакстан", "қазақстан"),
        ("моонот", "мөөнөт"),  # Kyrgyz without ө
        ("хуччат", "ҳуҷҷат"),  # Tajik without ҳ ҷ
        ("руйхат", "рўйхат"),  # Uzbek Cyrillic without ў
        ("boladi", "bo'ladi"),  # Uzbek Latin without the apostrophe
    ],
)
def test_fold_letters_joins_what_people_type_with_the_proper_spelling(typed, proper):
    assert fold_letters(typed) == fold_letters(proper)


def test_fold_letters_keeps_distinct_russian_words_apart():
    assert fold_letters("патент") == "патент"
    assert fold_letters("срок") != fold_letters("сок")


LONG_RU = (
    "Здравствуйте! Я из Таджикистана, приехал в Москву в марте.\n"
    "Работаю на стройке у знакомого; денег пока мало. Спасибо!\n"
    "Скажите пожалуйста, за сколько дней нужна регистрация?"
)


def test_long_message_splits_into_clauses_of_three_words_or_more():
    # split on "!", ".", ";", "?" and line breaks; "Здравствуйте", "Спасибо" are dropped
    assert clauses(LONG_RU) == [
        "я из таджикистана, приехал в москву в марте",
        "работаю на стройке у знакомого",
        "денег пока мало",
        "скажите пожалуйста, за сколько дней нужна регистрация",
    ]
    assert "денег мало" not in clauses(LONG_RU.replace("денег пока мало", "денег мало"))


def test_short_message_has_no_clauses_and_numbers_do_not_split():
    assert clauses("Сколько стоит патент? Где платить?") == []
    long = "патент стоит 2.5 тысячи в месяц или больше в москве и области скажите точно сколько"
    assert clauses(long) == [long]  # one clause: the decimal point is not a sentence end
    assert clause_variants(long, detect_language(long)) == []  # nothing beyond the whole


def test_clause_variants_come_in_the_knowledge_base_script_and_not_the_whole():
    text = (
        "Ассалому алайкум, мен Самарқанддан келдим. Ҳозир Москвада қурилишда ишлаяпман. "
        "Патент пулини қандай тўлайман?"
    )
    detected = detect_language(text)
    parts = clause_variants(text, detected)
    # each clause once, in the base's (Latin) script: one model input per clause
    assert parts == [
        "assalomu alaykum, men samarqanddan keldim",
        "hozir moskvada qurilishda ishlayapman",
        "patent pulini qanday to'layman",
    ]
    whole = query_variants(text, detected)
    assert whole[0].startswith("ассалому алайкум")  # matched word by word in both scripts
    assert searched(whole).startswith("assalomu alaykum")  # embedded in Latin only
    assert searched(whole) not in parts


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # Kazakh, Kyrgyz and Tajik typed on a Latin keyboard, without their letters
        ("zhumys ruqsatyn qalai alamyn", "kk"),
        ("emne kylam, patent kantip alam", "ky"),
        ("baroi giriftani patent chi kor kunam", "tg"),
        # ... while English, Uzbek and Russian in Latin letters stay what they were
        ("how many days can i stay in kazakhstan", "en"),
        ("kyrgyz citizens work permit", "en"),
        ("patent qancha turadi", "uz"),
        ("skolko stoit patent", "ru"),
    ],
)
def test_latin_typed_languages(text, lang):
    assert detect_language(text).lang == lang


def test_latin_spellings_of_a_cyrillic_word():
    from bot.retrieval.language import latin_spellings

    assert {"qalay", "kalai", "qalai"} <= latin_spellings("қалай")
    assert "zhumys" in latin_spellings("жұмыс") and "jumys" in latin_spellings("жұмыс")
    assert latin_spellings("patent") == set()  # not Cyrillic


def test_kazakh_kyrgyz_tajik_in_latin_are_searched_in_cyrillic():
    from bot.retrieval.transliterate import turkic_latin_to_cyrillic

    assert turkic_latin_to_cyrillic("qazaqstanda qansha kun", "kk") == "қазақстанда қанша кун"
    assert turkic_latin_to_cyrillic("jumush kerek", "ky") == "жумуш керек"
    assert turkic_latin_to_cyrillic("baroi giriftani patent", "tg") == "барои гирифтани патент"
    assert turkic_latin_to_cyrillic("rossiya", "tg") == "россия"
    text = "zhumys ruqsatyn qalai alamyn"
    forms = query_variants(text, detect_language(text))
    assert forms == ["zhumys ruqsatyn qalai alamyn", "жумыс руқсатын қалаи аламын"]
    assert searched(forms) == "жумыс руқсатын қалаи аламын"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # From knowledge/training/ (labelled questions, not the entries the n-grams were
        # counted on): letters and listed words alone took these for Kazakh or Russian.
        ("Түркиядан депортация болгон адам кайра Стамбулга бара алабы?", "ky"),
        ("Дубайга туристтик виза канча күндө чыгат", "ky"),
        ("казакстандан чыгарып жиберишсе кайра кире аламбы", "ky"),
    ],
)
def test_suffixes_tell_kyrgyz_from_kazakh_and_russian(text, lang):
    assert detect_language(text).lang == lang


@pytest.mark.parametrize(
    ("text", "hint", "lang"),
    [
        # Every migrant says "регистрация", "виза", "штраф": they are not Russian votes.
        ("а регистрация ше", "kk", "kk"),
        ("виза керекпи", None, "ky"),
        ("регистрация", None, "ru"),  # nothing else to go on: Russian, as before
        ("штраф за регистрацию", None, "ru"),
    ],
)
def test_migration_loanwords_do_not_make_a_message_russian(text, hint, lang):
    assert detect_language(text, hint=hint).lang == lang


def test_the_ngram_model_learns_from_counts_and_refuses_other_languages():
    data = count_ngrams(
        {
            "ky": ["барабы келеби болобу", "кантип алабыз", "иштесе болобу"],
            "kk": ["бара ма келе ме бола ма", "қалай аламыз", "жұмыс істесе бола ма"],
        }
    )
    model = NgramModel.from_counts(data)
    votes = model.votes(["болобу", "барабы"])
    assert votes["ky"] == 0.0 and votes["kk"] < 0.0  # the likeliest has 0, others less
    assert model.votes(["hello"]) == dict.fromkeys(CYRILLIC, 0.0)  # no Cyrillic: no vote
    with pytest.raises(ValueError, match="languages"):
        NgramModel.from_counts({**data, "languages": ["ru", "kk"]})


def test_the_bundled_ngram_model_covers_every_cyrillic_language():
    data = json.loads(NGRAM_FILE.read_text(encoding="utf-8"))
    assert data["languages"] == list(CYRILLIC)
    assert all(total > 10_000 for total in data["totals"])
    assert ngram_model().votes(tokens(normalize("каттоо мөөнөтү канча күн")))["ky"] == 0.0


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("ya grajdanin, patent nujen?", "я гражданин, патент нужен?"),  # j as in Uzbek: ж
        ("vozmojno li", "возможно ли"),
        ("doljen", "должен"),
        ("moj patent kakoj", "мой патент какой"),  # elsewhere j stays й
    ],
)
def test_latin_russian_j_is_zh_in_common_stems(typed, read):
    from bot.retrieval.transliterate import ru_latin_to_cyrillic

    assert ru_latin_to_cyrillic(typed) == read
