"""Editing an entry file from the staff console, keeping the file as staff wrote it.

Staff also edit the entry files by hand and read every change as a diff, so an edit
made in the console must change only what the form changed: comments, key order,
quoting and block styles of everything else stay byte for byte. The file is therefore
read and written with ruamel.yaml in round-trip mode (PyYAML, which the validator uses,
keeps neither comments nor styles), and a value equal to the one in the file is never
assigned, so a form sent back unchanged gives the same bytes.

This module only turns (file text, form values) into new file text. The console checks
the result with `check_entry_text` before writing, as `kb review` does, and compares
`fingerprint`s so that a save never overwrites a file changed since the form was opened.
`new_entry_text` starts a new entry file from one question people asked, for the same
form to fill in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.emitter import RoundTripEmitter
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    PlainScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from bot.domain import ENTRY_COUNTRIES, LANGUAGES
from bot.errors import InputError
from bot.knowledge.yamldoc import ID_PATTERN

# The order keys have in the files; a missing key is inserted where this order puts it.
TOP_ORDER = (
    "id",
    "country",
    "tags",
    "status",
    "as_of",
    "review_by",
    "review",
    "related",
    "counterparts",
    "sources",
    "text",
)
FIELD_ORDER = ("title", "short", "questions", "not_about", "answer")
SOURCE_ORDER = ("title", "titles", "url", "supports")
# Several lines by nature: always written as a literal block (`|`), as staff write them.
BLOCK_FIELDS = ("short", "answer")
# A source's `supports` longer than this is written as a folded block (`>-`) whose lines
# hold at most this many characters, as in the files.
SUPPORTS_WIDTH = 90
# A new entry is due for review about six months after it was started, as `kb review`
# sets it.
REVIEW_AFTER = dt.timedelta(days=182)
NEW_ENTRY_COMMENT = (
    "# Started in the staff console from an unanswered question. It is not in the\n"
    "# knowledge base until it passes `migrant-bot kb check` and is added (reindex).\n"
)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# YAML 1.1 (PyYAML, the validator's reader) reads these plain words as a boolean, a
# number or a date where ruamel (YAML 1.2) writes them unquoted; see `_plain_is_text`.
_YAML11 = yaml.resolver.Resolver()
_YAML11_EMITTER = yaml.emitter.Emitter(io.StringIO(), allow_unicode=True)
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class EditError(InputError):
    """The edit cannot be made as asked (the file is broken, a language or a date is
    not one the entry can have); the message says what to change, in the form or in
    the file."""


@dataclass(frozen=True)
class LanguageFields:
    """One language's text as the form holds it: stripped, lines joined with `\\n`."""

    title: str
    short: str
    answer: str
    questions: tuple[str, ...]
    not_about: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceFields:
    """One source as the form holds it, each value on one line. In `titles` (language ->
    title a migrant reads) a language left out is not touched and an empty title removes
    that language's line."""

    title: str  # the citation staff read (English)
    url: str
    supports: str  # what the source supports
    titles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryFields:
    """What the console's entry form edits. `sources` is the whole list, in order: a
    source left out is deleted, a new one added (one whose title, url and supports are
    all empty is an empty row of the form and left out). Languages left out of `text`
    are not touched. Dates are ISO text (2026-11-23), as in the file."""

    text: dict[str, LanguageFields]
    sources: tuple[SourceFields, ...]
    as_of: str
    review_by: str

    @property
    def source_titles(self) -> tuple[dict[str, str], ...]:
        """The sources' titles alone, one mapping per source (read-only, for callers
        written before the form edited whole sources)."""
        return tuple(dict(source.titles) for source in self.sources)


def fingerprint(text: str) -> str:
    """The file's version for conflict checks: the form keeps the fingerprint of the text
    it was filled from, and a save is refused when the file's is no longer the same."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_fields(text: str) -> EntryFields:
    """The values the form starts from, cleaned as a form sends them back (so sending
    them unchanged is recognised as "no change"); raise `EditError` when the file cannot
    be read as an entry."""
    doc = _load(text)
    texts = _text_block(doc)
    fields: dict[str, LanguageFields] = {}
    for lang, block in texts.items():
        if lang not in LANGUAGES:  # kb check reports it; the form has no place for it
            continue
        if not isinstance(block, CommentedMap):
            raise EditError(
                f"text.{lang} is not a block of title, short, questions and answer; "
                "fix the file by hand (kb check shows the line)"
            )
        fields[str(lang)] = LanguageFields(
            title=_clean(_text(block.get("title"))),
            short=_clean(_text(block.get("short"))),
            answer=_clean(_text(block.get("answer"))),
            questions=tuple(_list_items(block, "questions", lang)),
            not_about=tuple(_list_items(block, "not_about", lang)),
        )
    sources: list[SourceFields] = []
    for i, source in enumerate(_sources(doc)):
        current = _source_titles(source, i)
        items = {} if current is None else current.items()
        sources.append(
            SourceFields(
                title=_one_line(_text(source.get("title"))),
                url=_one_line(_text(source.get("url"))),
                supports=_one_line(_text(source.get("supports"))),
                titles={k: _one_line(_text(v)) for k, v in items if k in LANGUAGES},
            )
        )
    return EntryFields(
        text=fields,
        sources=tuple(sources),
        as_of=_date_text(doc.get("as_of")),
        review_by=_date_text(doc.get("review_by")),
    )


def apply_fields(text: str, fields: EntryFields) -> str:
    """The file text with the form's values in it. Only values that differ from the
    file's (after the form's cleaning: `\\r\\n`, trailing spaces) are written; id,
    country, status, tags, related and review are never touched. Sources are matched to
    the file's by url (by position where the url is the same), so that a deleted source
    is its lines gone and a new one is a block of new lines in the layout of the others.
    Raise `EditError` for a value the file cannot take (an unknown language, a date that
    is not a day)."""
    doc = _load(text)
    changed = _set_date(doc, "as_of", fields.as_of)
    changed |= _set_date(doc, "review_by", fields.review_by)
    texts = _text_block(doc)
    for lang in sorted(fields.text, key=_language_rank):
        changed |= _edit_language(texts, lang, fields.text[lang])
    changed |= _set_sources(doc, fields.sources)
    return _dump(doc, text) if changed else text


def add_question(text: str, lang: str, question: str) -> str:
    """The file text with `question` appended to text.<lang>.questions: a paraphrase
    staff saw users ask. Unchanged when the entry already has it (case and spacing
    aside); raise `EditError` when the entry has no text in `lang` or lists the
    question in not_about (the scorer would learn to refuse it and to answer it)."""
    wanted = _one_line(question)
    if not wanted:
        raise EditError("the question is empty; type it as people ask it")
    _language_rank(lang)
    doc = _load(text)
    block = _text_block(doc).get(lang)
    if not isinstance(block, CommentedMap):
        raise EditError(f"the entry has no text in '{lang}'; write that language's text first")
    folded = _fold(wanted)
    if any(_fold(q) == folded for q in _list_items(block, "questions", lang)):
        return text
    if any(_fold(q) == folded for q in _list_items(block, "not_about", lang)):
        raise EditError(
            f"'{wanted}' is in text.{lang}.not_about (questions this entry does not "
            "answer); remove it there first if the entry does answer it"
        )
    questions = block.get("questions")
    if questions is None:
        _insert_key(block, "questions", CommentedSeq([_scalar(wanted)]), FIELD_ORDER)
    else:
        _insert_item(questions, len(questions), _scalar(wanted))
    return _dump(doc, text)


def new_entry_text(entry_id: str, country: str, lang: str, question: str, today: dt.date) -> str:
    """The text of a new entry file started from one question people asked in `lang`:
    a draft with empty title, short and answer in that language only and no sources yet,
    for the entry form (`read_fields`, `apply_fields`) to fill in. kb check refuses it
    until every language and a source are written, which the comment at its top says.
    Raise `EditError` for an id, a country or a language an entry cannot have."""
    entry_id, country, lang = entry_id.strip(), country.strip(), lang.strip()
    if not ID_PATTERN.match(entry_id):
        raise EditError(
            f"id '{entry_id}' must use lowercase latin letters, digits and '-' only "
            "(e.g. ru-patent-price); it is also the file name"
        )
    if country not in ENTRY_COUNTRIES:
        raise EditError(f"country '{country}' is not one of: {', '.join(ENTRY_COUNTRIES)}")
    _language_rank(lang)
    wanted = _one_line(question)
    if not wanted:
        raise EditError("the question is empty; type it as people ask it")
    block = CommentedMap()
    for key in FIELD_ORDER:
        if key == "questions":
            block[key] = CommentedSeq([_scalar(wanted)])
        elif key != "not_about":
            block[key] = DoubleQuotedScalarString("")
    doc = CommentedMap()
    doc["id"] = entry_id
    doc["country"] = country
    doc["tags"] = CommentedSeq()
    doc["status"] = "draft"
    doc["as_of"] = today
    doc["review_by"] = today + REVIEW_AFTER
    doc["related"] = CommentedSeq()
    doc["sources"] = CommentedSeq()
    doc["text"] = CommentedMap([(lang, block)])
    return NEW_ENTRY_COMMENT + _dump(doc, "\n")


# Reading and writing.


class _Verbatim(str):
    """A scalar that looks like a date but is not a day (2026-13-40): kept as written,
    so the form shows it and staff can correct it, instead of the file being unreadable
    in the console (the validator reports it)."""


class _Constructor(RoundTripConstructor):
    def construct_impossible_date(self, node: Any) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return _Verbatim(node.value)


class _Representer(RoundTripRepresenter):
    def represent_verbatim(self, data: Any) -> Any:
        # Tagged as a timestamp, the text matches the implicit date pattern and is
        # written plain, exactly as it was read.
        return self.represent_scalar(_TIMESTAMP_TAG, str(data))


class _EndOfLineComment(CommentToken):
    """The end-of-line comment of a value that was changed: it keeps its column while
    the new value leaves room, and is two spaces after the value otherwise (ruamel
    would leave one)."""

    __slots__ = ()


class _Emitter(RoundTripEmitter):
    def write_comment(self, comment: Any, pre: bool = False) -> None:
        if isinstance(comment, _EndOfLineComment) and comment.start_mark.column < self.column + 2:
            comment = CommentToken(comment.value, CommentMark(self.column + 2))
        super().write_comment(comment, pre)


# Registered on these subclasses only: other users of ruamel in the process keep the
# library's behaviour.
_Constructor.add_constructor(_TIMESTAMP_TAG, _Constructor.construct_impossible_date)
_Representer.add_representer(_Verbatim, _Representer.represent_verbatim)


def _yaml() -> YAML:
    """Round-trip YAML set up as the files are written: mappings indented by 2, list
    items `- ` indented by 2 under their key, lines never re-wrapped."""
    rt = YAML(typ="rt")
    rt.Constructor = _Constructor
    rt.Representer = _Representer
    rt.Emitter = _Emitter
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _load(text: str) -> Any:
    # A file whose last line has no line break (two files in knowledge/ end so) is read
    # as if it had one: ruamel would otherwise write the last block scalar as `|-` plus
    # a line break. `_dump` takes the break away again.
    source = text if text.endswith("\n") else text + "\n"
    try:
        doc = _yaml().load(source)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or exc.context or "the YAML cannot be read"
        raise EditError(
            f"the file cannot be read as YAML (line {line}: {reason}); fix it by hand, "
            "kb check shows the line"
        ) from exc
    except YAMLError as exc:
        raise EditError(f"the file cannot be read as YAML ({exc}); fix it by hand") from exc
    if not isinstance(doc, CommentedMap):
        raise EditError(
            "the file does not describe an entry as 'field: value' lines; fix it by hand"
        )
    return doc


def _dump(doc: Any, original: str) -> str:
    out = io.StringIO()
    rt = _yaml()
    rt.explicit_start = original.startswith("---")  # ruamel drops the marker otherwise
    rt.dump(doc, out)
    text = out.getvalue()
    if not original.endswith("\n"):
        text = text.removesuffix("\n")
    if "\r\n" in original:  # ruamel keeps \r\n in comments only; make it uniform
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


def _text_block(doc: Any) -> Any:
    texts = doc.get("text")
    if not isinstance(texts, CommentedMap):
        raise EditError("the entry has no 'text' block with one block per language; fix it by hand")
    return texts


def _sources(doc: Any) -> list[Any]:
    sources = doc.get("sources")
    if sources is None:
        return []
    if not isinstance(sources, CommentedSeq):
        raise EditError("'sources' is not a list of sources; fix the file by hand")
    return list(sources)


def _source_titles(source: Any, i: int) -> Any:
    if not isinstance(source, CommentedMap):
        raise EditError(f"source {i + 1} is not a block of title, url, supports; fix it by hand")
    titles = source.get("titles")
    if titles is not None and not isinstance(titles, CommentedMap):
        raise EditError(f"source {i + 1} titles is not one line per language; fix the file by hand")
    return titles


def _list_items(block: Any, key: str, lang: str) -> list[str]:
    items = block.get(key)
    if items is None:
        return []
    if not isinstance(items, CommentedSeq):
        raise EditError(f"text.{lang}.{key} is not a list ('- ' lines); fix the file by hand")
    return [_one_line(_text(item)) for item in items]


def _language_rank(lang: str) -> int:
    if lang not in LANGUAGES:
        raise EditError(f"unknown language '{lang}'; use one of: {', '.join(LANGUAGES)}")
    return LANGUAGES.index(lang)


# Values as the form sends them.


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# Line breaks other than \n that a paste can bring (Word, PDFs): YAML writers and
# readers disagree about them (ruamel writes U+2028 inside a block it cannot read back;
# PyYAML reads U+0085 as a break), so they become \n; other control characters go.
_BREAKS = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"})


def _plain(value: str) -> str:
    value = value.replace("\r\n", "\n").translate(_BREAKS)
    return "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc")


def _clean(value: str) -> str:
    """A form value as stored: `\\n` line breaks, no trailing spaces, stripped."""
    lines = _plain(value).split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def _one_line(value: str) -> str:
    """A list item (one question): any run of spaces and line breaks is one space."""
    return " ".join(_plain(value).split())


def _fold(value: str) -> str:
    return " ".join(value.casefold().split())


def _date_text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return _clean(_text(value))


def _plain_is_text(value: str) -> bool:
    """True when `value` can be written plain and PyYAML reads it back as this text.
    ruamel quotes what YAML 1.2 would read as something else, but PyYAML reads YAML 1.1,
    where `yes`, `off` or `1:20` are a boolean or a number; and where no plain scalar
    can be written (`Law: art. 5`, `what? # x`) ruamel would pick single quotes, while
    staff write double quotes."""
    if not _YAML11_EMITTER.analyze_scalar(value).allow_block_plain:
        return False
    return _YAML11.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG


def _is_block(value: Any) -> bool:
    return isinstance(value, LiteralScalarString | FoldedScalarString)


def _scalar(value: str, old: Any = None, block: bool = False) -> Any:
    """How a changed value is written: several lines (or a field that is several lines
    by nature) as a literal block ending in one line break; one line in the quotes the
    old value had, else plain, in double quotes where plain cannot be written or a
    YAML reader would misread it."""
    if not value:
        return PlainScalarString("")  # written as ''
    if block or "\n" in value:
        return LiteralScalarString(value + "\n")
    # The quotes of an empty value ('' or "") are not a style: it cannot be written plain.
    if old and isinstance(old, SingleQuotedScalarString | DoubleQuotedScalarString):
        return type(old)(value)
    if not _plain_is_text(value):
        return DoubleQuotedScalarString(value)
    return PlainScalarString(value)


# The edits.


def _set_date(doc: Any, key: str, value: str) -> bool:
    wanted = _clean(value)
    if wanted == _date_text(doc.get(key)):
        return False
    if not ISO_DATE.match(wanted):
        raise EditError(f"{key} '{wanted}' must be a date written YYYY-MM-DD, e.g. 2026-11-23")
    try:
        day = dt.date.fromisoformat(wanted)
    except ValueError as exc:
        raise EditError(f"{key} {wanted} is not a day of the calendar; check the date") from exc
    if key in doc:
        _replace(doc, key, day)
    else:
        _insert_key(doc, key, day, TOP_ORDER)
    return True


def _edit_language(texts: Any, lang: str, fields: LanguageFields) -> bool:
    block = texts.get(lang)
    if block is None:
        new = _new_language(fields)
        if new is None:  # an empty form for a language the entry does not have
            return False
        _insert_key(texts, lang, new, LANGUAGES)  # in the order the files have
        return True
    if not isinstance(block, CommentedMap):
        raise EditError(
            f"text.{lang} is not a block of title, short, questions and answer; "
            "fix the file by hand"
        )
    changed = False
    for key in ("title", "short", "answer"):
        changed |= _set_text(block, key, getattr(fields, key), FIELD_ORDER, key in BLOCK_FIELDS)
    changed |= _set_list(block, "questions", fields.questions, f"text.{lang}")
    changed |= _set_list(block, "not_about", fields.not_about, f"text.{lang}")
    return changed


def _new_language(fields: LanguageFields) -> Any:
    title, short, answer = _clean(fields.title), _clean(fields.short), _clean(fields.answer)
    questions = _items(fields.questions)
    not_about = _items(fields.not_about)
    if not (title or short or answer or questions or not_about):
        return None
    block = CommentedMap()
    block["title"] = _scalar(title)
    block["short"] = _scalar(short, block=True)
    block["questions"] = CommentedSeq([_scalar(q) for q in questions])
    if not_about:
        block["not_about"] = CommentedSeq([_scalar(q) for q in not_about])
    block["answer"] = _scalar(answer, block=True)
    return block


def _items(values: Iterable[str]) -> list[str]:
    return [item for item in (_one_line(v) for v in values) if item]


def _set_text(mapping: Any, key: str, value: str, order: Sequence[str], block: bool) -> bool:
    wanted = _clean(value)
    if key not in mapping:
        if not wanted:
            return False
        _insert_key(mapping, key, _scalar(wanted, block=block), order)
        return True
    old = mapping[key]
    if _clean(_text(old)) == wanted:
        return False
    _replace(mapping, key, _scalar(wanted, old, block))
    return True


def _set_list(block: Any, key: str, values: Sequence[str], where: str) -> bool:
    """Replace a list of questions item by item: unchanged items (and their quotes and
    comments) stay, a deleted or added question is one line of the diff."""
    wanted = _items(values)
    current = block.get(key)
    if current is None:
        if not wanted:
            return False
        _insert_key(block, key, CommentedSeq([_scalar(q) for q in wanted]), FIELD_ORDER)
        return True
    if not isinstance(current, CommentedSeq):
        raise EditError(f"{where}.{key} is not a list ('- ' lines); fix the file by hand")
    old = [_one_line(_text(item)) for item in current]
    if old == wanted:
        return False
    if not wanted:
        # No list rather than `key: []`: not_about is optional, and an entry without
        # questions is for kb check to refuse, in its own words.
        _delete_key(block, key)
        return True
    opcodes = SequenceMatcher(None, old, wanted, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(opcodes):  # from the end: indexes stay valid
        if tag == "equal":
            continue
        common = min(i2 - i1, j2 - j1)
        for k in range(common):
            _replace(current, i1 + k, _scalar(wanted[j1 + k], current[i1 + k]))
        for k in range(i2 - 1, i1 + common - 1, -1):
            _delete_item(current, k)
        for k in range(common, j2 - j1):
            _insert_item(current, i1 + k, _scalar(wanted[j1 + k]))
    return True


def _set_sources(doc: Any, values: Sequence[SourceFields]) -> bool:
    """Make the file's sources the form's: matched by url (`SequenceMatcher` over the
    two lists of urls, like questions), a matched source edited value by value, a
    source the form left out deleted with its lines, a new one inserted where the form
    has it."""
    wanted = [w for w in (_clean_source(v) for v in values) if w.title or w.url or w.supports]
    seq = doc.get("sources")
    if seq is None:
        if not wanted:
            return False
        seq = CommentedSeq()
        if "sources" in doc:  # `sources:` with nothing after it
            doc["sources"] = seq
        else:
            _insert_key(doc, "sources", seq, TOP_ORDER)
    elif not isinstance(seq, CommentedSeq):
        raise EditError("'sources' is not a list of sources; fix the file by hand")
    for i, source in enumerate(seq):
        _source_titles(source, i)  # each one a block of title, url, supports
    neighbour = _title_neighbour(seq)
    was_empty = not seq
    old = [_one_line(_text(source.get("url"))) for source in seq]
    new = [w.url for w in wanted]
    changed = False
    opcodes = SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for _tag, i1, i2, j1, j2 in reversed(opcodes):  # from the end: indexes stay valid
        # Sources paired in order (the same url, or a url changed in place) are edited
        # value by value; the rest of the longer side is deleted or inserted.
        common = min(i2 - i1, j2 - j1)
        for k in range(common):
            changed |= _edit_source(seq[i1 + k], wanted[j1 + k], i1 + k, neighbour)
        for k in range(i2 - 1, i1 + common - 1, -1):
            _delete_item(seq, k)
            changed = True
        for k in range(common, j2 - j1):
            _insert_item(seq, i1 + k, _new_source(wanted[j1 + k], neighbour))
            changed = True
    if was_empty:
        # `sources: []` (a new entry) takes the block layout of the other files once it
        # has a source. ruamel 0.19 keeps no flow style for an empty `[]` it read, but
        # this does not depend on it; an empty list is written `[]` in either style.
        seq.fa.set_block_style()
    return changed


def _clean_source(value: SourceFields) -> SourceFields:
    return SourceFields(
        title=_one_line(value.title),
        url=_one_line(value.url),
        supports=_one_line(value.supports),
        titles={lang: _one_line(title) for lang, title in value.titles.items()},
    )


def _title_neighbour(seq: Any) -> Any:
    """A title a migrant reads, of any source of the file: new titles are quoted like it."""
    for source in seq:
        titles = source.get("titles")
        if isinstance(titles, CommentedMap):
            for title in titles.values():
                if title:
                    return title
    return None


def _new_source(value: SourceFields, neighbour: Any) -> Any:
    source = CommentedMap()
    source["title"] = _scalar(value.title)
    titles = CommentedMap()
    for lang in sorted(value.titles, key=_language_rank):
        if title := value.titles[lang]:
            titles[lang] = _scalar(title, neighbour)
    if titles:
        source["titles"] = titles
    source["url"] = _scalar(value.url)
    source["supports"] = _supports(value.supports)
    return source


def _supports(value: str, old: Any = None) -> Any:
    """`supports` as written in the files: a long one as a folded block (`>-`) of lines of
    at most SUPPORTS_WIDTH characters, a short one on the key's line. A value written on
    the key's line in the file stays there (plain or in its quotes)."""
    if old is not None and not _is_block(old):
        return _scalar(value, old)
    if len(value) <= SUPPORTS_WIDTH:
        return _scalar(value)
    folded = FoldedScalarString(value)
    folds: list[int] = []
    line_start = 0
    for at, char in enumerate(value):
        # Fold at the last space that keeps the line within the width; a word longer
        # than the width has a line of its own. (No two spaces follow each other.)
        if char == " ":
            next_space = value.find(" ", at + 1)
            word_end = len(value) if next_space < 0 else next_space
            if word_end - line_start > SUPPORTS_WIDTH:
                folds.append(at)
                line_start = at + 1
    folded.fold_pos = folds
    return folded


def _edit_source(source: Any, wanted: SourceFields, i: int, neighbour: Any) -> bool:
    changed = False
    for key in ("title", "url", "supports"):
        value = getattr(wanted, key)
        if key not in source:
            if value:
                new = _supports(value) if key == "supports" else _scalar(value)
                _insert_key(source, key, new, SOURCE_ORDER)
                changed = True
            continue
        old = source[key]
        if _one_line(_text(old)) == value:
            continue
        _replace(source, key, _supports(value, old) if key == "supports" else _scalar(value, old))
        changed = True
    changed |= _edit_source_titles(source, wanted.titles, i, neighbour)
    return changed


def _edit_source_titles(source: Any, wanted: dict[str, str], i: int, neighbour: Any) -> bool:
    titles = _source_titles(source, i)
    langs = sorted(wanted, key=_language_rank)
    if titles is None:
        new = CommentedMap()
        for lang in langs:
            if title := _one_line(wanted[lang]):
                new[lang] = _scalar(title, neighbour)
        if not new:
            return False
        _insert_key(source, "titles", new, SOURCE_ORDER)
        return True
    changed = False
    for lang in langs:
        title = _one_line(wanted[lang])
        if lang in titles:
            if _one_line(_text(titles[lang])) == title:
                continue
            if title:
                _replace(titles, lang, _scalar(title, titles[lang]))
            else:
                _delete_key(titles, lang)
            changed = True
        elif title:
            # Quoted like the other titles of this source (of the file if it has none),
            # as staff write them.
            sibling = next((t for t in titles.values() if t), neighbour)
            _insert_key(titles, lang, _scalar(title, sibling), LANGUAGES)
            changed = True
    if changed and not titles:
        _delete_key(source, "titles")
    return changed


# Changing a mapping or a list with its comments kept in place. ruamel keeps the comment
# lines below an item with that item (in `ca.items`, slot 2 of a mapping key, slot 0 of
# a list item; for a nested block, with its last item). A comment line is about what
# follows it, so when an item is inserted, deleted or turned into a block scalar, the
# lines below it are moved to stay above the item they were above.


def _slot(node: Any) -> int:
    return 0 if isinstance(node, CommentedSeq) else 2


def _last_in(container: Any, key: Any) -> tuple[Any, Any]:
    """The innermost last item of `container[key]`: the one ruamel keeps the comment lines
    below the whole item with."""
    node, at = container, key
    value = node[at]
    while isinstance(value, CommentedMap | CommentedSeq) and len(value):
        node, at = value, (len(value) - 1 if isinstance(value, CommentedSeq) else list(value)[-1])
        value = node[at]
    return node, at


def _take_lines_below(container: Any, key: Any) -> str:
    """Cut the comment lines below item `key` (keeping its end-of-line comment) and return
    them as text, each line with its indentation."""
    node, at = _last_in(container, key)
    entry = node.ca.items.get(at)
    slot = _slot(node)
    token = entry[slot] if entry else None
    if token is None:
        return ""
    if _is_block(node[at]):  # below a block scalar: lines only, the first one unindented
        value = token.value
        entry[slot] = None
        return value if value.startswith("\n") else " " * token.start_mark.column + value
    eol, _, lines = token.value.partition("\n")
    if eol:
        token.value = eol + "\n"
    else:
        entry[slot] = None
    return lines


def _put_lines_below(container: Any, key: Any, lines: str) -> None:
    if not lines:
        return
    node, at = _last_in(container, key)
    slot = _slot(node)
    entry = node.ca.items.setdefault(at, [None, None, None, None])
    token = entry[slot]
    if _is_block(node[at]):
        before = ""
        if token is not None:
            before = token.value
            if not before.startswith("\n"):
                before = " " * token.start_mark.column + before
        entry[slot] = CommentToken(before + lines, CommentMark(0))
    elif token is None:
        entry[slot] = CommentToken("\n" + lines, CommentMark(0))
    else:
        token.value = token.value + lines


def _put_lines_above_first(container: Any, lines: str) -> None:
    if not lines:
        return
    token = CommentToken(lines, CommentMark(0))
    if container.ca.comment is None:
        container.ca.comment = [None, [token]]
    elif container.ca.comment[1] is None:
        container.ca.comment[1] = [token]
    else:
        container.ca.comment[1].append(token)


def _replace(container: Any, key: Any, value: Any) -> None:
    old = container[key]
    if _is_block(old) == _is_block(value):
        container[key] = value
        if not _is_block(value):
            _mark_end_of_line(container, key)
        return
    lines = _take_lines_below(container, key)
    entry = container.ca.items.get(key) if isinstance(container, CommentedMap) else None
    if entry is not None and _is_block(value) and entry[2] is not None:
        # An end-of-line comment goes to the block's header line (`short: |  # note`):
        # below the block it would be read as part of the text.
        entry[3] = ["  " + entry[2].value.strip()]
        entry[2] = None
    elif entry is not None and _is_block(old) and entry[3]:
        header = " ".join(str(c).strip() for c in entry[3])
        entry[2] = _EndOfLineComment(f"{header}\n", CommentMark(0))
        entry[3] = None
    container[key] = value
    _put_lines_below(container, key, lines)


def _mark_end_of_line(container: Any, key: Any) -> None:
    entry = container.ca.items.get(key)
    slot = _slot(container)
    token = entry[slot] if entry else None
    if token is not None and not token.value.startswith("\n"):
        entry[slot] = _EndOfLineComment(token.value, token.start_mark, token.end_mark)


def _insert_key(mapping: Any, key: str, value: Any, order: Sequence[str]) -> None:
    """Insert `key` after the last key that `order` puts before it (first if none)."""
    keys = list(mapping)
    before = set(order[: order.index(key)])
    position = max((i + 1 for i, k in enumerate(keys) if k in before), default=0)
    lines = _take_lines_below(mapping, keys[position - 1]) if position else ""
    mapping.insert(position, key, value)
    _put_lines_below(mapping, key, lines)


def _delete_key(mapping: Any, key: str) -> None:
    keys = list(mapping)
    position = keys.index(key)
    lines = _take_lines_below(mapping, key)
    del mapping[key]
    mapping.ca.items.pop(key, None)
    if position:
        _put_lines_below(mapping, keys[position - 1], lines)
    else:
        _put_lines_above_first(mapping, lines)


def _insert_item(seq: Any, index: int, value: Any) -> None:
    lines = _take_lines_below(seq, index - 1) if index else ""
    seq.insert(index, value)
    _put_lines_below(seq, index, lines)


def _delete_item(seq: Any, index: int) -> None:
    lines = _take_lines_below(seq, index)
    del seq[index]
    if index:
        _put_lines_below(seq, index - 1, lines)
    else:
        _put_lines_above_first(seq, lines)
