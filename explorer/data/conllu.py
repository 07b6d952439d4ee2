"""Part-of-speech data: CoNLL-U treebanks (through the `conllu` package) and the project's word/TAG demo files.

Probes align with the treebank's syntactic words: a multiword-token line (``3-4 don't``) only
names the surface form of words 3 and 4, which carry the tags, and an empty node (``8.1``) is
an enhanced-dependency placeholder with no surface form; both are skipped.
"""
import re
from dataclasses import dataclass
from pathlib import Path

from conllu.exceptions import ParseException
from conllu.parser import parse_line

from ..errors import ExplorerError

DEMO = Path(__file__).resolve().parent / "demo"
DEMO_POS_TRAIN = DEMO / "pos_train.txt"
DEMO_POS_TEST = DEMO / "pos_test.txt"

_MULTIWORD = re.compile(r"^\d+-\d+$")
_EMPTY_NODE = re.compile(r"^\d+\.\d+$")
_SPACES = re.compile(r"\s+")
# Only the columns probes use are parsed (features, heads and deps are not needed and are slow to parse).
_FIELDS = ("id", "form", "lemma", "upos", "xpos")


@dataclass
class TaggedSentence:
    """One sentence's words with their universal (UPOS) and language-specific (XPOS) tags."""

    words: list[str]
    upos: list[str]
    xpos: list[str | None]
    sent_id: str
    line: int  # where the sentence starts in its file (1-based), for messages

    def tags(self, tagset: str) -> list[str | None]:
        if tagset not in ("upos", "xpos"):
            raise ExplorerError(f"unknown tag set {tagset!r}: use 'upos' or 'xpos'")
        return self.upos if tagset == "upos" else self.xpos


def read_pos_file(path: str | Path, limit: int | None = None) -> list[TaggedSentence]:
    """A ``.conllu`` treebank or a word/TAG file (one sentence per line), by extension."""
    path = Path(path)
    if not path.is_file():
        raise ExplorerError(f"{path} does not exist: give a CoNLL-U file (.conllu) or a word/TAG file")
    return read_conllu(path, limit) if path.suffix == ".conllu" else read_tagged_text(path, limit)


def read_conllu(path: str | Path, limit: int | None = None) -> list[TaggedSentence]:
    """The sentences of a CoNLL-U file (the first ``limit`` when given)."""
    path = Path(path)
    sentences, rows, sent_id, start = [], [], None, None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if rows:
                    sentences.append(_sentence(rows, sent_id or f"{path.name}:{start}", start, path))
                    if limit is not None and len(sentences) >= limit:
                        return sentences
                rows, sent_id, start = [], None, None
                continue
            start = start or number
            if line.startswith("#"):
                if line.startswith("# sent_id"):
                    sent_id = line.partition("=")[2].strip()
                continue
            rows.append((number, _token(line, path, number)))
    if rows:
        sentences.append(_sentence(rows, sent_id or f"{path.name}:{start}", start, path))
    if not sentences:
        raise ExplorerError(f"{path} holds no CoNLL-U sentences")
    return sentences


def _token(line: str, path: Path, number: int) -> dict:
    fields = line.split("\t")
    if len(fields) != 10:
        raise ExplorerError(f"{path}, line {number}: expected 10 tab-separated CoNLL-U fields, found "
                            f"{len(fields)}: {line[:80]!r}")
    try:
        token = parse_line(line, _FIELDS)
    except ParseException as e:
        raise ExplorerError(f"{path}, line {number}: {e}") from None
    if not _MULTIWORD.match(fields[0]) and not _EMPTY_NODE.match(fields[0]):
        if not fields[1].strip():
            raise ExplorerError(f"{path}, line {number}: a word with no form: {line[:80]!r}")
    return token


def _sentence(rows: list[tuple[int, dict]], sent_id: str, start: int, path: Path) -> TaggedSentence:
    words = [(n, t) for n, t in rows if isinstance(t["id"], int)]
    for expected, (n, t) in enumerate(words, 1):
        if t["id"] != expected:
            raise ExplorerError(f"{path}, line {n}: word id {t['id']} out of order (expected {expected})")
    if not words:
        raise ExplorerError(f"{path}, line {start}: a sentence with no words")
    # A few treebanks allow spaces inside a word ("10 000"); models take words without them.
    return TaggedSentence(words=[_SPACES.sub("_", t["form"].strip()) for _, t in words], upos=[t["upos"] for _, t in words],
                          xpos=[t["xpos"] for _, t in words], sent_id=sent_id, line=start)


def read_tagged_text(path: str | Path, limit: int | None = None) -> list[TaggedSentence]:
    """word/TAG files: one sentence per line, tokens separated by spaces, ``#`` lines are comments."""
    path = Path(path)
    sentences = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            words, tags = [], []
            for token in line.split():
                word, slash, tag = token.rpartition("/")
                if not slash or not word or not tag.isupper():
                    raise ExplorerError(f"{path}, line {number}: {token!r} is not word/TAG (e.g. dog/NOUN)")
                words.append(word)
                tags.append(tag)
            sentences.append(TaggedSentence(words, tags, [None] * len(words), f"{path.name}:{number}", number))
            if limit is not None and len(sentences) >= limit:
                break
    if not sentences:
        raise ExplorerError(f"{path} holds no word/TAG sentences")
    return sentences
