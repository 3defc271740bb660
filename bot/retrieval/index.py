"""Versioned search indexes: build beside the old one, switch a pointer atomically.

Layout under `<data_dir>/index/`:

    CURRENT                   name of the version in service (replaced atomically)
    20261123T101500-3f2a9c1d/ one version: index.faiss, rows.json, entries.json,
                              manifest.json (model id, dimension, KB hash, counts)

A version carries its own snapshot of the knowledge base, so the text a user sees always
matches the vectors that found it, and a running process can switch versions without a
restart. Embeddings are cached by (model id, kind, text hash) in SQLite: re-indexing
after a one-entry edit embeds only the changed texts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from bot.errors import MigrantBotError
from bot.knowledge.entries import KnowledgeBase
from bot.knowledge.labelled import read_questions, training_files
from bot.knowledge.validation import load_kb
from bot.retrieval.embed import Embedder
from bot.retrieval.language import NGRAM_FILE, detect_language
from bot.retrieval.normalize import normalize
from bot.retrieval.queries import query_variants, searched
from bot.retrieval.scorer import FILE as SCORER_FILE
from bot.retrieval.scorer import Scorer, ScorerProblem

log = logging.getLogger(__name__)
FORMAT = 1
POINTER = "CURRENT"
FILES = ("index.faiss", "rows.json", "entries.json", "manifest.json")
# How far a stored vector's length may be from 1 (float32 rounding of a normalised
# 384-dimensional embedding stays under 1e-5).
UNIT_TOLERANCE = 1e-3


class IndexProblem(MigrantBotError):
    """The index cannot be used; the message says what to do."""


class IndexNotFound(IndexProblem):
    pass


class CorruptIndex(IndexProblem):
    pass


class ModelMismatch(IndexProblem):
    pass


@dataclass(frozen=True)
class Row:
    """What one vector in the index stands for."""

    entry_id: str
    lang: str
    kind: str  # question | title | answer | not_about | labelled
    text: str


@dataclass
class IndexVersion:
    name: str
    path: Path
    manifest: dict
    index: faiss.Index
    rows: list[Row]
    kb: KnowledgeBase
    scorer: Scorer | None = None  # trained at reindex; None in versions built without

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]


@dataclass
class BuildReport:
    version: str
    path: Path
    entries: int
    rows: int
    embedded: int
    cached: int
    seconds: float
    previous: str | None
    by_lang: dict[str, int] = field(default_factory=dict)
    unchanged: bool = False
    scorer: dict = field(default_factory=dict)  # the scorer's training report, if trained

    def summary(self) -> str:
        if self.unchanged:
            return (
                f"nothing to do: version {self.version} in service was built from the same "
                "knowledge and model (use --force to rebuild anyway)"
            )
        langs = ", ".join(f"{k} {v}" for k, v in sorted(self.by_lang.items()))
        scored = ""
        if self.scorer:
            held = self.scorer.get("held_out", {})
            scored = (
                f"; scorer trained on {self.scorer.get('paraphrases', 0)} paraphrases, "
                f"{self.scorer.get('not_about', 0)} not_about and "
                f"{self.scorer.get('labelled', 0)} labelled questions (unseen labelled: "
                f"{held.get('answer_right', 0)} answered right, {held.get('answer_wrong', 0)} "
                f"wrong, {held.get('abstain_oos', 0)} out of scope refused)"
            )
        return (
            f"built index {self.version}: {self.entries} entries, {self.rows} vectors "
            f"({langs}); embedded {self.embedded} new texts, {self.cached} from cache; "
            f"{self.seconds:.1f} s; previous version: {self.previous or 'none'}{scored}"
        )


# ---------------------------------------------------------------- embedding cache


class EmbeddingCache:
    """Vectors by (model id, kind, sha256 of text); safe to share between processes."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model_id TEXT NOT NULL, kind TEXT NOT NULL,"
            " text_hash TEXT NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (model_id, kind, text_hash))"
        )

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model_id: str, kind: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        hashes = {self.key(t): t for t in texts}
        keys = list(hashes)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cursor = self._db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model_id=? AND kind=? "
                f"AND text_hash IN ({marks})",
                (model_id, kind, *chunk),
            )
            for text_hash, blob in cursor:
                found[hashes[text_hash]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model_id: str, kind: str, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                [
                    (model_id, kind, self.key(t), np.asarray(v, dtype=np.float32).tobytes())
                    for t, v in items.items()
                ],
            )

    def close(self) -> None:
        self._db.close()


# ---------------------------------------------------------------- building


def index_rows(kb: KnowledgeBase) -> list[Row]:
    """Every text that gets a vector: each question paraphrase and title (embedded as
    queries, since they are questions), each answer (embedded as a passage) and each
    `not_about` question (a query; it never ranks its entry, the scorer weighs it
    against it)."""
    rows: list[Row] = []
    for entry in sorted(kb, key=lambda e: e.id):
        for lang, local in entry.text.items():
            seen: set[str] = set()
            groups = (
                ("title", [local.title]),
                ("question", local.questions),
                ("not_about", local.not_about),
            )
            for kind, texts in groups:
                for text in texts:
                    norm = normalize(text)
                    if norm and norm not in seen:
                        seen.add(norm)
                        rows.append(Row(entry.id, lang, kind, norm))
            rows.append(Row(entry.id, lang, "answer", normalize(local.answer)))
    return rows


def labelled_rows(kb_dir: Path, kb: KnowledgeBase) -> list[Row]:
    """A row for each in-scope labelled question of knowledge/training/*.jsonl (its
    first entry, in the form the bot embeds a question): real questions, written the
    way people type, are found again by people who type alike. Questions about entries
    that no longer exist, follow-ups and repeats are left out."""
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    for path in training_files(kb_dir):
        for q in read_questions(path):
            if not q.expected or q.expected[0] not in kb or q.context is not None:
                continue
            detected = detect_language(q.text, hint=q.lang)
            text = searched(query_variants(q.text, detected))
            if text and (q.expected[0], text) not in seen:
                seen.add((q.expected[0], text))
                rows.append(Row(q.expected[0], q.lang or detected.lang, "labelled", text))
    return rows


def _rows_hash(rows: Sequence[Row]) -> str:
    blob = json.dumps([r.__dict__ for r in rows], ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()


def _embed_rows(
    rows: Sequence[Row],
    embedder: Embedder,
    cache: EmbeddingCache,
    progress: Callable[[int], None] | None,
) -> tuple[np.ndarray, int, int]:
    vectors = np.zeros((len(rows), embedder.dim), dtype=np.float32)
    embedded = cached = 0
    for kind, func in (("query", embedder.embed_queries), ("passage", embedder.embed_passages)):
        positions = [i for i, r in enumerate(rows) if (r.kind == "answer") == (kind == "passage")]
        texts = sorted({rows[i].text for i in positions})
        have = cache.get_many(embedder.model_id, kind, texts)
        missing = [t for t in texts if t not in have]
        cached += len(texts) - len(missing)
        for start in range(0, len(missing), 32):
            batch = missing[start : start + 32]
            new = dict(zip(batch, func(batch), strict=True))
            cache.put_many(embedder.model_id, kind, new)
            have.update(new)
            embedded += len(batch)
            if progress:
                progress(len(batch))
        for i in positions:
            vectors[i] = have[rows[i].text]
    return vectors, embedded, cached


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def current_version_name(index_dir: Path) -> str | None:
    try:
        name = (Path(index_dir) / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def _point_to(index_dir: Path, name: str) -> None:
    """Switch the pointer in one atomic rename: readers see the old or the new name."""
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".pointer-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / POINTER)


def list_versions(index_dir: Path) -> list[str]:
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return []
    return sorted(
        p.name for p in index_dir.iterdir() if p.is_dir() and (p / "manifest.json").exists()
    )


def build_index(
    kb_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    cache_path: Path,
    languages: Sequence[str],
    keep: int = 3,
    progress: Callable[[int, int], Callable[[int], None] | None] | None = None,
    today: dt.date | None = None,
    force: bool = False,
    train: Callable[[IndexVersion], Scorer] | None = None,
) -> BuildReport:
    """Validate the knowledge base, build a new version beside the old, switch to it.

    Raises `InvalidKnowledgeBase` (nothing is written) when the knowledge base has
    errors. `progress(total, ...)` may return a callback told how many texts were
    embedded in each step. When the version in service was built from the same
    knowledge and model, nothing is built (unless `force`). `train` fits the version's
    scorer (`bot.retrieval.training.train_scorer`) on the new vectors before the switch.
    """
    started = time.perf_counter()
    kb = load_kb(kb_dir, languages, today)  # refuses an invalid knowledge base
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    previous = current_version_name(index_dir)
    labelled = labelled_rows(kb_dir, kb)
    if (
        not force
        and previous
        and _same_as(index_dir / previous, kb, embedder, train is not None, _rows_hash(labelled))
    ):
        return BuildReport(
            previous,
            index_dir / previous,
            len(kb),
            0,
            0,
            0,
            time.perf_counter() - started,
            previous,
            unchanged=True,
        )
    rows = index_rows(kb) + labelled

    cache = EmbeddingCache(cache_path)
    try:
        total = len({(r.kind == "answer", r.text) for r in rows})
        tick = progress(total, 0) if progress else None
        vectors, embedded, cached = _embed_rows(rows, embedder, cache, tick)
    finally:
        cache.close()

    index = faiss.IndexFlatIP(embedder.dim)
    index.add(vectors)

    built_at = _now()
    name = f"{built_at:%Y%m%dT%H%M%S%f}-{kb.content_hash[:8]}"
    tmp = Path(tempfile.mkdtemp(dir=index_dir, prefix=".building-"))
    try:
        faiss.write_index(index, str(tmp / "index.faiss"))
        (tmp / "rows.json").write_text(
            json.dumps([r.__dict__ for r in rows], ensure_ascii=False), encoding="utf-8"
        )
        (tmp / "entries.json").write_text(kb.to_json(), encoding="utf-8")
        scored: dict = {}
        if train is not None:
            draft = IndexVersion(name, tmp, {"model_id": embedder.model_id}, index, rows, kb)
            scorer = train(draft)
            scorer.save(tmp)
            scored = {"scorer": scorer.report}
        by_lang: dict[str, int] = {}
        for r in rows:
            by_lang[r.lang] = by_lang.get(r.lang, 0) + 1
        stored = [f for f in (*FILES, SCORER_FILE) if f != "manifest.json" and (tmp / f).exists()]
        checksums = {f: file_sha256(tmp / f) for f in stored}
        manifest = {
            "format": FORMAT,
            "version": name,
            "model_id": embedder.model_id,
            "dim": embedder.dim,
            "kb_hash": kb.content_hash,
            "labelled_hash": _rows_hash(labelled),
            # The language detector decides how questions are searched and what the
            # scorer learns: new n-gram counts call for a new version too.
            "language_model": file_sha256(NGRAM_FILE),
            "built_at": built_at.isoformat(),
            "counts": {"entries": len(kb), "rows": len(rows), "by_lang": by_lang},
            "embedded": embedded,
            "cached": cached,
            "sha256": checksums,
            **scored,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.replace(tmp, index_dir / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_to(index_dir, name)
    _prune(index_dir, keep, {name, previous})
    return BuildReport(
        version=name,
        path=index_dir / name,
        entries=len(kb),
        rows=len(rows),
        embedded=embedded,
        cached=cached,
        seconds=time.perf_counter() - started,
        previous=previous,
        by_lang=by_lang,
        scorer=scored.get("scorer", {}),
    )


def _same_as(
    path: Path, kb: KnowledgeBase, embedder: Embedder, scored: bool, labelled: str
) -> bool:
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        manifest.get("format") == FORMAT
        and manifest.get("kb_hash") == kb.content_hash
        and manifest.get("model_id") == embedder.model_id
        and (SCORER_FILE in (manifest.get("sha256") or {})) == scored
        and manifest.get("labelled_hash", _rows_hash([])) == labelled
        and manifest.get("language_model") == file_sha256(NGRAM_FILE)
        and damage(path, manifest) is None  # a damaged version in service is rebuilt
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def damage(path: Path, manifest: dict) -> str | None:
    """What is wrong with the files of a version, by the checksums its manifest keeps
    (versions built before checksums have none: nothing to compare), or None."""
    sums = manifest.get("sha256")
    if not isinstance(sums, dict):
        return None
    for name, expected in sorted(sums.items()):
        try:
            actual = file_sha256(path / name)
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror or exc})"
        if actual != expected:
            return f"{name} does not match its checksum (damaged or changed on disk)"
    return None


def verify_version(index_dir: Path, name: str) -> None:
    """Raise `CorruptIndex` when a version's files do not match its manifest."""
    path = Path(index_dir) / name
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptIndex(f"index version {name} has no readable manifest ({exc})") from exc
    problem = damage(path, manifest)
    if problem is not None:
        raise CorruptIndex(f"index version {name}: {problem}; rebuild with `migrant-bot reindex`")


def _prune(index_dir: Path, keep: int, protect: set[str | None]) -> None:
    """Keep the newest `keep` versions as rollback targets, never a damaged one."""
    for name in list_versions(index_dir):
        if name not in protect:
            try:
                verify_version(index_dir, name)
            except CorruptIndex as exc:
                log.warning("removing damaged index version: %s", exc)
                shutil.rmtree(index_dir / name, ignore_errors=True)
    versions = list_versions(index_dir)
    for name in versions[: max(0, len(versions) - keep)]:
        if name not in protect:
            shutil.rmtree(index_dir / name, ignore_errors=True)
    for leftover in index_dir.glob(".building-*"):
        if time.time() - leftover.stat().st_mtime > 3600:
            shutil.rmtree(leftover, ignore_errors=True)


def switch_to(index_dir: Path, name: str) -> None:
    """Point the service at an existing version (e.g. roll back)."""
    if name not in list_versions(index_dir):
        raise IndexNotFound(f"no index version '{name}' in {index_dir}")
    verify_version(index_dir, name)  # never point the service at damaged files
    _point_to(Path(index_dir), name)


# ---------------------------------------------------------------- loading


def load_index(index_dir: Path, model_id: str, name: str | None = None) -> IndexVersion:
    """Load a version (the current one by default) and check it fits the model.

    Raises `IndexNotFound`, `CorruptIndex` or `ModelMismatch` with a message that says
    what to do; never returns an index that would give garbage results.
    """
    index_dir = Path(index_dir)
    name = name or current_version_name(index_dir)
    if not name:
        raise IndexNotFound(f"no index in {index_dir}: run `migrant-bot reindex` first")
    path = index_dir / name
    if not path.is_dir():
        raise IndexNotFound(
            f"{index_dir / POINTER} names version '{name}', which does not exist: "
            "run `migrant-bot reindex`"
        )
    missing = [f for f in FILES if not (path / f).exists()]
    if missing:
        raise CorruptIndex(f"index version {name} lacks {', '.join(missing)}: rebuild it")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        rows = [Row(**r) for r in json.loads((path / "rows.json").read_text(encoding="utf-8"))]
        kb = KnowledgeBase.from_json((path / "entries.json").read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptIndex(
            f"index version {name} has unreadable metadata ({exc}): rebuild it"
        ) from exc
    if manifest.get("format") != FORMAT:
        raise CorruptIndex(
            f"index version {name} has format {manifest.get('format')}, this program reads "
            f"{FORMAT}: rebuild it with `migrant-bot reindex`"
        )
    if manifest.get("model_id") != model_id:
        raise ModelMismatch(
            f"index version {name} was built with model '{manifest.get('model_id')}' but the "
            f"configured model is '{model_id}': run `migrant-bot reindex` with the configured "
            "model, or configure the model the index was built with"
        )
    problem = damage(path, manifest)
    if problem is not None:
        raise CorruptIndex(f"index version {name}: {problem}; rebuild with `migrant-bot reindex`")
    try:
        index = faiss.read_index(str(path / "index.faiss"))
    except RuntimeError as exc:
        raise CorruptIndex(f"index version {name}: FAISS cannot read index.faiss ({exc})") from exc
    if index.ntotal != len(rows) or index.d != manifest.get("dim"):
        raise CorruptIndex(
            f"index version {name} is inconsistent: {index.ntotal} vectors of dimension "
            f"{index.d} for {len(rows)} rows of dimension {manifest.get('dim')}: rebuild it"
        )
    if index.ntotal:
        # Embeddings are unit vectors: a version whose vectors were zeroed (or filled
        # with noise) behind an intact header is refused even without checksums.
        norms = np.linalg.norm(index.reconstruct_n(0, index.ntotal), axis=1)
        bad = int(np.count_nonzero(np.abs(norms - 1.0) > UNIT_TOLERANCE))
        if bad:
            raise CorruptIndex(
                f"index version {name}: {bad} of {index.ntotal} vectors are not unit "
                "vectors (damaged file): rebuild with `migrant-bot reindex`"
            )
    unknown = {r.entry_id for r in rows} - set(kb.entries)
    if unknown:
        raise CorruptIndex(f"index version {name} has vectors for unknown entries {unknown}")
    scorer = None
    if SCORER_FILE in (manifest.get("sha256") or {}):
        try:
            scorer = Scorer.load(path / SCORER_FILE, manifest["kb_hash"], manifest["model_id"])
        except ScorerProblem as exc:
            raise CorruptIndex(
                f"index version {name}: {exc}; rebuild with `migrant-bot reindex`"
            ) from exc
    return IndexVersion(name, path, manifest, index, rows, kb, scorer)
