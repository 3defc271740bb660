#!/usr/bin/env python3
"""Ops: count the character n-grams that tell the Cyrillic languages apart, from the
knowledge base's own questions, titles and not_about lines, into
bot/retrieval/cyrillic_ngrams.json (see bot/retrieval/language.py).

Run it after many new questions in one language, then `migrant-bot reindex` (the
language decides how a question is searched, and the scorer learns from that) and
`migrant-bot eval` to compare. Uzbek is counted in Cyrillic (the entries are in Latin
letters; people write both). Deterministic: the same knowledge gives the same file.

    .venv/bin/python scripts/train_language_model.py [KB_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.knowledge.validation import load_kb  # noqa: E402
from bot.retrieval.language import CYRILLIC, NGRAM_FILE, count_ngrams  # noqa: E402
from bot.retrieval.transliterate import uz_latin_to_cyrillic  # noqa: E402


def main(kb_dir: Path) -> None:
    kb = load_kb(kb_dir)
    texts: dict[str, list[str]] = {lang: [] for lang in CYRILLIC}
    for entry in sorted(kb, key=lambda e: e.id):
        for lang in CYRILLIC:
            local = entry.text.get(lang)
            if local is None:
                continue
            lines = [local.title, *local.questions, *local.not_about]
            if lang == "uz":
                lines = [uz_latin_to_cyrillic(line) for line in lines]
            texts[lang].extend(lines)
    data = count_ngrams(texts)
    NGRAM_FILE.write_text(
        json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n",
        encoding="utf-8",
    )
    sizes = ", ".join(f"{lang} {len(texts[lang])}" for lang in CYRILLIC)
    kept, seen = len(data["counts"]), data["vocabulary"]
    print(f"{NGRAM_FILE}: {kept} n-grams kept of {seen} ({sizes} lines)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "knowledge")
