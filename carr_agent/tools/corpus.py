"""The offline corpus: a JSONL of pages indexed with tantivy; a search backend and a page fetcher.

Corpus lines are JSON objects ``{"url", "title", "text", "date"}`` (``url`` and ``text`` required).
The title and the text are indexed as one field (measured: this makes the ranking
agree with plain BM25 engines), with English stemming and CJK text split into characters and
character bigrams; the original line is stored, so the page text comes back byte for byte. Pages
are looked up by normalised URL (:func:`carr_agent.urls.normalize_url`), so ``http://www.x.org/a/``
opens the page stored as ``https://x.org/a``.

An index is a directory written once: :meth:`CorpusIndex.build` writes into a temporary sibling
and renames it into place, so a reader never sees a half-built index and two processes building
the same index cannot corrupt each other. :func:`default_corpus` keeps the shipped example
corpus's index in the user cache, keyed by the source file's hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carr_agent.errors import CorpusError, FetchError, SearchError
from carr_agent.paths import cache_root, corpus_cache_dir
from carr_agent.text import CJK_RUN_RE, TOKEN_RE
from carr_agent.tools.snippet import MAX_SNIPPET, best_snippet
from carr_agent.types import Hit, Page
from carr_agent.urls import normalize_url

logger = logging.getLogger(__name__)

#: Written into every index directory; its presence marks a complete index.
META_FILE = "carr_corpus.json"
FORMAT_VERSION = 1
_TOKENIZER = "en_stem"
_MAX_REPORTED_ERRORS = 20
_HASHED_NAME = re.compile(r"[0-9a-f]{16}")

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(bytes_read, total_bytes)`` while a corpus file is indexed."""


@dataclass(frozen=True, kw_only=True)
class BuildStats:
    """What a build did: documents indexed and duplicate URLs skipped.

    Attributes:
        docs: documents in the index.
        duplicates: ``(line, url, first_line)`` for every line whose normalised URL was already
            indexed from ``first_line``; the first occurrence is kept.
        source_sha256: hash of the corpus file the index was built from.
    """

    docs: int
    duplicates: tuple[tuple[int, str, int], ...] = field(default=())
    source_sha256: str = ""


class CorpusIndex:
    """A built corpus index: ``search(query, k)`` and ``fetch(url)`` over the stored pages.

    Create one with :meth:`build` or :meth:`open`; the object is safe to share between threads.
    """

    def __init__(self, index_dir: Path, index: Any, meta: dict[str, Any]) -> None:
        self.index_dir = index_dir
        self.meta = meta
        self.build_stats: BuildStats | None = None
        self._index = index
        self._schema = index.schema
        self._searcher = index.searcher()

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        docs_jsonl: str | os.PathLike[str],
        index_dir: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        heap_size: int = 256_000_000,
        num_threads: int = 0,
    ) -> CorpusIndex:
        """Index a JSONL corpus into ``index_dir`` and open it.

        Args:
            docs_jsonl: the corpus, one JSON object a line (blank lines are skipped).
            index_dir: where the index goes; must not exist or be empty unless ``overwrite``.
            overwrite: replace an existing index at ``index_dir``.
            progress: called with ``(bytes_read, total_bytes)`` as the file is read.
            heap_size: tantivy writer memory budget in bytes (shared by its threads).
            num_threads: tantivy indexing threads; 0 lets tantivy choose.

        Raises:
            CorpusError: the file is missing or has bad lines (each named with its line number:
                invalid JSON, not an object, missing or non-string ``url``/``text``), or
                ``index_dir`` is in the way. Nothing is left behind on failure.
        """
        source, target = Path(docs_jsonl), Path(index_dir)
        if not source.is_file():
            raise CorpusError(f"corpus file not found: {source}")
        if target.exists() and not overwrite and (not target.is_dir() or any(target.iterdir())):
            raise CorpusError(f"{target} already exists; pass overwrite=True (CLI: --force) to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
        try:
            stats = _write_index(source, tmp, progress=progress, heap_size=heap_size, num_threads=num_threads)
            _publish(tmp, target, overwrite=overwrite)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        index = cls.open(target)
        index.build_stats = stats
        return index

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str]) -> CorpusIndex:
        """Open an index written by :meth:`build`.

        Raises:
            CorpusError: ``index_dir`` is not a complete carr_agent corpus index.
        """
        import tantivy

        path = Path(index_dir)
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise CorpusError(f"{path} is not a carr_agent corpus index (no {META_FILE}); build one "
                              f"with `carr-agent corpus build DOCS.jsonl -o {path}`")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT_VERSION:
                raise CorpusError(f"{path}: index format {meta.get('format')!r} is not "
                                  f"{FORMAT_VERSION}; rebuild it")
            index = tantivy.Index.open(str(path))
        except (ValueError, OSError) as exc:
            raise CorpusError(f"cannot open corpus index {path}: {exc}") from exc
        return cls(path, index, meta)

    # -- the two backend seams ------------------------------------------------------------------

    def __len__(self) -> int:
        return self._searcher.num_docs

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Rank pages for ``query`` (BM25 over title + text); snippets are exact substrings.

        Returns ``[]`` when the query has no words or nothing matches.
        """
        if k < 1:
            return []
        terms = _query_terms(query)
        if not terms:
            return []
        try:
            parsed = self._index.parse_query(" ".join(terms), ["content"])
            result = self._searcher.search(parsed, k, count=False)
        except ValueError as exc:
            raise SearchError(f"corpus search failed for {query!r}: {exc}") from exc
        hits = []
        for _score, address in result.hits:
            doc = self._load(address)
            start, end = best_snippet(doc["text"], query, max_chars=MAX_SNIPPET)
            hits.append(Hit(url=doc["url"], title=doc["title"], snippet=doc["text"][start:end],
                            date=doc["date"], start=start, end=end))
        return hits

    def fetch(self, url: str) -> Page:
        """Return the stored page whose normalised URL equals ``url``'s.

        Raises:
            FetchError: no page with that URL is in the corpus (or the URL is not usable).
        """
        import tantivy

        try:
            query = tantivy.Query.term_query(self._schema, "key", normalize_url(url))
            found = self._searcher.search(query, 1, count=False).hits
        except ValueError as exc:  # a URL tantivy cannot take (e.g. a lone surrogate)
            raise FetchError(f"{url!r} is not in the offline corpus (not a usable URL: {exc})") from exc
        if not found:
            raise FetchError(f"{url} is not in the offline corpus")
        doc = self._load(found[0][1])
        return Page(url=doc["url"], title=doc["title"], text=doc["text"], date=doc["date"])

    def _load(self, address: Any) -> dict[str, Any]:
        raw = self._searcher.doc(address)["doc"][0]
        return _clean_record(json.loads(raw))


# -- building ---------------------------------------------------------------------------------


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("content", stored=False, tokenizer_name=_TOKENIZER, index_option="position")
    builder.add_text_field("key", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field("doc", stored=True, indexed=False)
    return builder.build()


def _write_index(
    source: Path, out: Path, *, progress: ProgressCallback | None, heap_size: int, num_threads: int
) -> BuildStats:
    import tantivy

    index = tantivy.Index(_schema(), path=str(out))
    writer = index.writer(heap_size=heap_size, num_threads=num_threads)
    seen: dict[str, int] = {}
    duplicates: list[tuple[int, str, int]] = []
    digest = hashlib.sha256()
    docs = 0
    try:
        for lineno, raw, record in _read_records(source, digest, progress):
            key = normalize_url(record["url"])
            if key in seen:
                duplicates.append((lineno, record["url"], seen[key]))
                continue
            seen[key] = lineno
            doc = tantivy.Document()
            doc.add_text("content", index_form(record["title"]) + "\n" + index_form(record["text"]))
            doc.add_text("key", key)
            doc.add_bytes("doc", raw)
            writer.add_document(doc)
            docs += 1
        if docs == 0:
            raise CorpusError(f"{source}: no documents (the file is empty)")
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        # drop the writer (and its lock file and threads) now, so the caller can delete `out`
        writer.rollback()
        del writer, index
        raise
    if duplicates:
        lineno, url, first = duplicates[0]
        logger.warning("%s: skipped %d line(s) repeating an earlier page's normalised URL "
                       "(first: line %d repeats line %d, %s)", source, len(duplicates), lineno, first, url)
    meta = {"format": FORMAT_VERSION, "docs": docs, "duplicates": len(duplicates),
            "source": str(source), "source_sha256": digest.hexdigest()}
    (out / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return BuildStats(docs=docs, duplicates=tuple(duplicates), source_sha256=digest.hexdigest())


def _read_records(
    source: Path, digest: Any, progress: ProgressCallback | None
) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """Yield ``(line number, raw line, cleaned record)``; raise one CorpusError for all bad lines."""
    total = source.stat().st_size
    done = 0
    errors: list[str] = []
    n_errors = 0
    with source.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            digest.update(raw)
            done += len(raw)
            if progress is not None and (lineno % 1000 == 0 or done == total):
                progress(done, total)
            line = raw.strip()
            if not line:
                continue
            try:
                record = _validate(json.loads(line))
            except (ValueError, RecursionError) as exc:
                n_errors += 1
                if len(errors) < _MAX_REPORTED_ERRORS:
                    errors.append(f"line {lineno}: {_describe(exc)}")
                continue
            if not n_errors:
                yield lineno, line, record
    if progress is not None:
        progress(total, total)
    if n_errors:
        more = f" (first {len(errors)} shown)" if n_errors > len(errors) else ""
        raise CorpusError(f"{source}: {n_errors} bad line(s){more}: " + "; ".join(errors))


def _describe(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg} at column {exc.colno})"
    if isinstance(exc, RecursionError):
        return "invalid JSON (nested too deeply)"
    if not isinstance(exc, CorpusError):  # e.g. an integer over Python's digit limit
        return f"invalid JSON ({exc})"
    return str(exc)


def _validate(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise CorpusError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("url", "text"):
        if key not in obj:
            raise CorpusError(f"missing {key!r}")
        if not isinstance(obj[key], str) or not obj[key].strip():
            raise CorpusError(f"{key!r} must be a non-empty string")
    for key in ("title", "date"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise CorpusError(f"{key!r} must be a string or null")
    for key in ("url", "title", "text", "date"):
        try:
            (obj.get(key) or "").encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CorpusError(f"{key!r} holds a lone surrogate ({exc.object[exc.start]!r}), "
                              "which is not Unicode text") from exc
    try:
        normalize_url(obj["url"])
    except ValueError as exc:
        raise CorpusError(f"'url' {obj['url']!r} is not a usable URL: {exc}") from exc
    return _clean_record(obj)


def _clean_record(obj: dict[str, Any]) -> dict[str, Any]:
    return {"url": obj["url"].strip(), "title": obj.get("title") or "", "text": obj["text"],
            "date": obj.get("date") or None}


def index_form(text: str) -> str:
    """The text as indexed: CJK runs become their characters plus character bigrams.

    tantivy's tokenizer keeps a CJK run as one token, so a query for part of a run would never
    match; characters give recall and bigrams give word-like precision.
    """
    if text.isascii():  # the common case; skips a regex pass over every page
        return text
    return CJK_RUN_RE.sub(_split_cjk, text)


def _split_cjk(m: Any) -> str:
    run = m.group()
    grams = list(run) + [run[i : i + 2] for i in range(len(run) - 1)]
    return " " + " ".join(grams) + " "


def _query_terms(query: str) -> list[str]:
    """Words of the query as a safe tantivy query string (no operators, fields or quotes)."""
    seen: dict[str, None] = {}
    for tok in TOKEN_RE.findall(index_form(query).lower()):
        seen.setdefault(tok, None)
    return list(seen)


def _publish(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Move a finished index into place atomically (rename within one directory)."""
    if overwrite and target.exists():
        trash = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, trash)
        os.rename(tmp, target)
        shutil.rmtree(trash, ignore_errors=True)
        return
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    os.rename(tmp, target)


# -- the shipped example corpus ----------------------------------------------------------------


def cache_dir() -> Path:
    """The user cache directory of carr_agent (see :func:`carr_agent.paths.cache_root`)."""
    return cache_root()


def default_corpus(source: str | os.PathLike[str] | None = None) -> CorpusIndex:
    """Open the index of the shipped example corpus, building it on first use.

    The index lives in ``cache_dir()/corpus/<name>-<sha256 prefix>``, so editing the source file
    builds a fresh index (older ones are removed). Concurrent first uses are safe: each process
    builds into its own temporary directory and the first rename wins.

    Args:
        source: a corpus JSONL to use instead of ``carr_agent.data.example_corpus_path()``.
    """
    if source is None:
        from carr_agent.data import example_corpus_path

        source = example_corpus_path()
    path = Path(source).resolve()
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}")
    stat = path.stat()
    memo_key = (str(path), stat.st_mtime_ns, stat.st_size, str(cache_dir()))
    cached = _OPENED.get(memo_key)
    if cached is not None and (cached.index_dir / META_FILE).is_file():
        return cached
    index = _open_or_build_cached(path)
    _OPENED[memo_key] = index
    return index


#: Indexes default_corpus() opened in this process, by (source, mtime, size, cache dir).
_OPENED: dict[tuple[str, int, int, str], CorpusIndex] = {}


def _open_or_build_cached(path: Path) -> CorpusIndex:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    root = corpus_cache_dir()
    stem = path.name.removesuffix(".jsonl").removesuffix(".gz") or "corpus"
    target = root / f"{stem}-{digest}"
    if (target / META_FILE).is_file():
        return CorpusIndex.open(target)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=root))
    try:
        _write_index(path, tmp, progress=None, heap_size=64_000_000, num_threads=1)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / META_FILE).is_file():
                raise
            logger.debug("another process built %s first", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in root.glob(f"{stem}-*"):
        if old != target and old.is_dir() and _HASHED_NAME.fullmatch(old.name[len(stem) + 1 :]):
            with contextlib.suppress(OSError):
                shutil.rmtree(old)
    logger.info("built the example corpus index at %s", target)
    return CorpusIndex.open(target)


#: The name that stands for the shipped example corpus wherever a corpus is expected.
EXAMPLE_CORPUS = "example"


def open_corpus(spec: str | os.PathLike[str] | None = None) -> CorpusIndex:
    """A corpus by what a user types: ``None`` or ``"example"`` (the shipped example corpus),
    an index directory (``carr-agent corpus build``), or a corpus JSONL (indexed into the cache
    on first use).

    Raises:
        CorpusError: the path does not exist or is not a corpus or an index.
    """
    if spec is None or str(spec) == EXAMPLE_CORPUS:
        return default_corpus()
    path = Path(spec).expanduser()
    if path.is_dir():
        return CorpusIndex.open(path)
    if not path.exists():
        raise CorpusError(
            f"no corpus {str(spec)!r}: give an index directory, a corpus JSONL, or "
            f"{EXAMPLE_CORPUS!r} for the shipped example corpus"
        )
    return default_corpus(path)


__all__ = [
    "EXAMPLE_CORPUS",
    "BuildStats",
    "CorpusIndex",
    "cache_dir",
    "default_corpus",
    "index_form",
    "open_corpus",
]
