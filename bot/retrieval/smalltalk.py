"""Small talk: greetings, thanks, goodbyes, "who are you", insults and "ok", in the six
languages and as people type them.

A message that is only small talk is not a failed question: answering "рахмат" with
"I have no reliable answer" and three random topics, and logging it as a gap for staff,
helps nobody. The whole message must be made of known phrases (a greeting followed by a
question is a question), so this never swallows a real question.
"""

from __future__ import annotations

import re
from functools import cache

from bot.retrieval.normalize import normalize

# Categories, strongest first: when a message mixes them ("спасибо, пока"), the first
# in this order decides the reply.
CATEGORIES = ("insult", "human", "who", "thanks", "bye", "greeting", "ok")

# Phrases per category, in all six languages, both Uzbek scripts and Latin-typed
# Russian, written in normalised form (lowercase, one apostrophe, ё as е). A phrase may
# have several words; a message matches when it is made only of phrases and fillers.
PHRASES: dict[str, tuple[str, ...]] = {
    "greeting": (
        # ru
        "привет", "здравствуйте", "здравствуй", "здрасте", "добрый день", "добрый вечер",
        "доброе утро", "салам", "салам алейкум", "салям алейкум", "ассаламу алейкум",
        "privet", "zdravstvuyte", "zdravstvuite", "zdrastvuyte", "salam", "salam aleykum",
        "salam alejkum", "assalamu alaykum", "assalamu aleykum",
        # uz
        "assalomu alaykum", "assalomu aleykum", "assalom", "salom", "ассалому алайкум",
        "ассалому алейкум", "ассалом", "салом", "хайрли тонг", "xayrli tong", "xayrli kun",
        "хайрли кун",
        # kk
        "сәлеметсіз бе", "салеметсиз бе", "сәлеметсіз", "сәлем", "салем", "қайырлы күн",
        "кайырлы кун",
        # ky
        "саламатсызбы", "саламатсыздарбы", "салам алейкум",
        # tg
        "ассалому алейкум", "рӯз ба хайр", "руз ба хайр", "ассалом алейкум",
        # en
        "hi", "hello", "hey", "good morning", "good evening", "good afternoon",
    ),
    "thanks": (
        "спасибо", "спс", "благодарю", "большое спасибо", "спасибо большое", "spasibo",
        "spasiba", "spasibo bolshoe", "rahmat", "raxmat", "katta rahmat", "рахмат",
        "раҳмат", "катта рахмат", "рақмет", "рахмет", "көп рақмет", "коп рахмет",
        "чоң рахмат", "чон рахмат", "ыракмат", "ташаккур", "ташакур", "ташаккури зиёд",
        "thanks", "thank you", "thx", "ty", "thank you very much", "many thanks",
    ),
    "bye": (
        "пока", "до свидания", "всего доброго", "poka", "do svidaniya", "xayr", "хайр",
        "ko'rishguncha", "кўришгунча", "сау болыңыз", "сау болыныз", "кош", "кош болуңуз",
        "то дидан", "худо ҳофиз", "худо хофиз", "bye", "goodbye", "see you",
    ),
    "who": (
        "кто ты", "ты кто", "кто вы", "вы кто", "что ты умеешь", "что вы умеете",
        "что ты можешь", "kto ty", "ty kto", "sen kimsan", "siz kimsiz", "сен кимсан",
        "сиз кимсиз", "сен кімсің", "сіз кімсіз", "сен кимсиң", "сиз кимсиз", "ту кистӣ",
        "ту кисти", "шумо кистед", "who are you", "what can you do", "what are you",
    ),
    "human": (
        "ты человек", "ты бот", "вы человек", "это бот", "ты робот", "ты живой",
        "ty chelovek", "ty bot", "sen odammisan", "sen botmisan", "siz odammisiz",
        "сен одаммисан", "сен адамсың ба", "сен ботсың ба", "сен адамсыңбы", "сен ботсуңбу",
        "ту одамӣ", "ту одами", "ту ботӣ", "are you human", "are you a bot",
        "are you a person", "are you real", "are you a robot",
    ),
    "insult": (
        "дурак", "тупой", "идиот", "бесполезный", "тупой бот", "бесполезный бот",
        "durak", "tupoy", "ahmoq", "ахмоқ", "ахмок", "ақымақ", "акымак", "акмак",
        "аблаҳ", "аблах", "stupid", "idiot", "useless", "stupid bot", "useless bot",
    ),
    "ok": (
        "ок", "окей", "хорошо", "понятно", "ясно", "ладно", "ok", "okay", "okey", "ponyatno",
        "horosho", "xorosho", "yaxshi", "яхши", "tushunarli", "тушунарли", "жақсы", "жаксы",
        "түсінікті", "тусиникти", "жакшы", "түшүнүктүү", "тушунуктуу", "хуб", "фаҳмо",
        "фахмо", "fine", "got it", "cool", "good",
    ),
}  # fmt: skip

# Words that ride along without changing what a message is ("спасибо брат").
FILLERS = frozenset(
    "брат братан бро друг ака aka brat bratan bro uka ука дорогой уважаемый dear "
    "всё все очень вам тебе сизга сізге сизге ба шумо ба ту ва и and да".split()
)
MAX_WORDS = 8
_WORD = re.compile(r"[\w']+", re.UNICODE)


@cache
def _index() -> dict[tuple[str, ...], str]:
    index: dict[tuple[str, ...], str] = {}
    for category in reversed(CATEGORIES):  # stronger categories win a shared phrase
        for phrase in PHRASES[category]:
            index[tuple(phrase.split())] = category
    return index


def classify(text: str) -> str | None:
    """The small-talk category of a message made only of small talk, else None."""
    words = _WORD.findall(normalize(text))
    if not words or len(words) > MAX_WORDS:
        return None
    index = _index()
    longest = max(len(k) for k in index)
    found: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            category = index.get(tuple(words[i : i + size]))
            if category is not None:
                found.append(category)
                i += size
                break
        else:
            if words[i] not in FILLERS:
                return None
            i += 1
    if not found:
        return None
    return min(found, key=CATEGORIES.index)
