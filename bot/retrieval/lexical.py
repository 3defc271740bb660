"""A lexical signal over entry texts: BM25 for the baseline, term coverage for ranking.

Dense vectors miss rare exact words (a law number, "patent", a city); words miss
paraphrase. The engine adds a small, bounded lexical term to the dense score. Matching
is on word prefixes, which tolerates Russian and Turkic endings and many typos.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from bot.retrieval.normalize import fold_letters, tokens

PREFIX = 5
# How much more a word the knowledge base never uses (in no title, question or answer)
# weighs than its rarest word: "invention" in "patent for my invention" says the question
# is not about work patents even though "patent" matches.
UNKNOWN_WEIGHT = 3.0
# The most informative weight a query is judged on, in units of the rarest word's IDF:
# about what a short question carries. A long message (who I am, what happened, then the
# question) brings many words no entry has, the names of streets and relatives, which
# would otherwise dilute the share of it an entry covers to half that of the same question
# asked alone. Below the cap, nothing changes. Measured on the development set (5-7 fit
# alike, 4 or 9 worse).
COVERAGE_CAP = 6.0


_PLAIN = re.compile(r"\w+")


def stems(text: str, prefix: int = PREFIX) -> list[str]:
    """Word prefixes of normalised text, with the letters people often type plainly
    folded (`fold_letters`: 'тіркеу' = 'тиркеу'); prefix=0 gives plain lower-cased words
    with no normalisation (what the BM25 baseline uses)."""
    if not prefix:
        return _PLAIN.findall(text.lower())
    folded = (fold_letters(t) for t in tokens(text))
    return [t[:prefix] for t in folded if len(t) > 1 or t.isdigit()]


class LexicalIndex:
    """Per-entry bags of word stems with IDF weights."""

    def __init__(
        self,
        docs: Mapping[str, Iterable[str]],
        prefix: int = PREFIX,
        k1: float = 1.2,
        b: float = 0.75,
        known: Iterable[str] = (),
    ):
        """`known`: more texts of the domain (the answers) whose words are not matched
        but are not foreign either (see `coverage`)."""
        self.prefix = prefix
        self.ids = list(docs)
        self.bags = [Counter(s for t in docs[i] for s in stems(t, prefix)) for i in self.ids]
        self.known = {s for t in known for s in stems(t, prefix)}
        self.lengths = [sum(bag.values()) for bag in self.bags]
        self.avg_len = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        df: Counter = Counter()
        for bag in self.bags:
            df.update(bag.keys())
        n = len(self.bags)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.max_idf = math.log(1 + (n + 0.5) / 0.5) if n else 1.0
        self.k1, self.b = k1, b

    def bm25(self, query: str) -> dict[str, float]:
        q = stems(query, self.prefix)
        scores = {}
        for entry_id, bag, length in zip(self.ids, self.bags, self.lengths, strict=True):
            s = 0.0
            for t in q:
                f = bag.get(t, 0)
                if f:
                    denom = f + self.k1 * (1 - self.b + self.b * length / self.avg_len)
                    s += self.idf[t] * f * (self.k1 + 1) / denom
            scores[entry_id] = s
        return scores

    def coverage(
        self, queries: Sequence[str], without: tuple[str, str] | None = None
    ) -> dict[str, float]:
        """Share of the query's informative words (IDF-weighted) found in each entry,
        in [0, 1]; the best over the query variants. Words no entry's titles and
        questions use weigh as the rarest word, and words the base never uses at all
        (not even in `known`) `UNKNOWN_WEIGHT` times more, so a question about something
        the base never mentions scores low everywhere. The share is of at most
        `COVERAGE_CAP` rarest-word weights, so a long message is not diluted by its
        story: an entry that has all the words of its question scores as for the
        question alone.

        `without` = (entry id, text): that entry's bag as if the text were not in it,
        for training the scorer on a paraphrase left out of its own entry."""
        best: dict[str, float] = dict.fromkeys(self.ids, 0.0)
        bags = self.bags
        if without is not None and without[0] in self.ids:
            at = self.ids.index(without[0])
            bags = list(self.bags)
            bags[at] = bags[at] - Counter(stems(without[1], self.prefix))
        foreign = UNKNOWN_WEIGHT * self.max_idf
        cap = COVERAGE_CAP * self.max_idf
        for query in queries:
            q = set(stems(query, self.prefix))
            if not q:
                continue
            weights = {t: self.idf.get(t, self.max_idf if t in self.known else foreign) for t in q}
            total = min(sum(weights.values()), cap)
            for entry_id, bag in zip(self.ids, bags, strict=True):
                hit = sum(w for t, w in weights.items() if t in bag)
                best[entry_id] = max(best[entry_id], min(1.0, hit / total))
        return best
