"""Part-of-speech data: CoNLL-U treebanks (through the `conllu` package), word/TAG text (the demo files, NLTK's
raw Brown), Penn Treebank ``.pos`` files and whitespace column files (CoNLL-2000's ``word POS chunk``).

Tags are kept as the file spells them (Brown's ``np-tl`` stays lower-case), so results name the file's own tags.

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
UPOS_TAGS = frozenset("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split())
# Penn Treebank tags (with EWT's additions): what PTB .pos files and CoNLL-2000's POS column hold.
PTB_TAGS = frozenset("CC CD DT EX FW IN JJ JJR JJS LS MD NN NNS NNP NNPS PDT POS PRP PRP$ RB RBR RBS RP SYM TO UH "
                     "VB VBD VBG VBN VBP VBZ WDT WP WP$ WRB # $ . , : ( ) `` '' -LRB- -RRB- -NONE- HYPH NFP ADD AFX "
                     "GW XX".split())
_SEPARATOR = re.compile(r"^=+$")  # PTB .pos files' ===== lines between texts
_ESCAPE = re.compile(r"\\([/*])")  # PTB writes / and * inside words as \/ and \*


@dataclass
class TaggedSentence:
    """One sentence's words with their universal (UPOS) and language-specific (XPOS) tags.

    Files with one tag column keep it in ``upos`` (the column probes read by default) and name it in ``tagset``.
    """

    words: list[str]
    upos: list[str]
    xpos: list[str | None]
    sent_id: str
    line: int  # where the sentence starts in its file (1-based), for messages
    tagset: str | None = None  # a one-tag-column file's tag set: 'upos', 'ptb' or the file's name; None: CoNLL-U

    def tags(self, tagset: str) -> list[str | None]:
        if tagset not in ("upos", "xpos"):
            raise ExplorerError(f"unknown tag set {tagset!r}: use 'upos' or 'xpos'")
        return self.upos if tagset == "upos" else self.xpos


def tagset_name(sentences: list[TaggedSentence], tagset: str = "upos") -> str:
    """What results call the probed tags: CoNLL-U's chosen column, or a one-column file's own tag set."""
    return (sentences[0].tagset if sentences and tagset == "upos" else None) or tagset


POS_FORMATS = "a CoNLL-U file (.conllu), a PTB .pos file, a word/TAG file or a whitespace column file"


def read_pos_file(path: str | Path, limit: int | None = None, word_col: int | None = None,
                  tag_col: int | None = None) -> list[TaggedSentence]:
    """A POS file, its format chosen by extension (``.conllu``, ``.pos``), by the column arguments (a column file),
    or else by its first line: word/TAG tokens, PTB ``[ ]`` brackets or ``=====``, or columns (word 0, tag 1)."""
    path = Path(path)
    number, first = first_line(path, POS_FORMATS)
    tokens = first.split()
    if word_col is not None or tag_col is not None:
        return read_columns(path, limit, word_col or 0, 1 if tag_col is None else tag_col)
    if path.suffix == ".conllu" or (len(first.split("\t")) == 10 and first.split("\t")[0].isdigit()):
        return read_conllu(path, limit)
    if path.suffix == ".pos" or _SEPARATOR.match(first) or {"[", "]"} & set(tokens):
        return read_ptb_pos(path, limit)
    if all(_word_tag(t) for t in tokens):
        return read_tagged_text(path, limit)
    if len(tokens) < 2:
        raise ExplorerError(f"{path}, line {number}: {first[:80]!r} is neither word/TAG tokens nor a word and its "
                            f"tag in columns: expected {POS_FORMATS}")
    return read_columns(path, limit)


def first_line(path: Path, expected: str) -> tuple[int, str]:
    """The file's first line with content and its number (an empty or missing file is refused, naming what was
    expected)."""
    if not path.is_file():
        raise ExplorerError(f"{path} does not exist: give {expected}")
    with open(path, encoding="utf-8", errors="replace") as f:  # a sniff: the reader decodes strictly
        for number, raw in enumerate(f, 1):
            if raw.strip() and not _comment(raw.strip()):
                return number, raw.strip()
    raise ExplorerError(f"{path} is empty: expected {expected}")


def _comment(line: str) -> bool:
    # "# text" is a comment, "#/# 200/CD" a sentence starting with the word #.
    return line.startswith("#") and not _word_tag(line.split()[0])


def _word_tag(token: str) -> tuple[str, str] | None:
    """A word/TAG token split at its last slash (a slash inside PTB words is escaped: 1\\/2/CD), or None."""
    word, slash, tag = token.rpartition("/")
    return (_ESCAPE.sub(r"\1", word), tag) if slash and word and tag else None


def _name_tags(sentences: list[TaggedSentence], path: Path, what: str) -> list[TaggedSentence]:
    """Name a one-column file's tags from the data: UD's UPOS, Penn Treebank's, or else the file's own name."""
    if not sentences:
        raise ExplorerError(f"{path} holds no {what} sentences")
    tags = {t for s in sentences for t in s.upos}
    name = ("upos" if tags <= UPOS_TAGS else "ptb" if all(set(t.split("|")) <= PTB_TAGS for t in tags)
            else path.name.split(".")[0])
    for s in sentences:
        s.tagset = name
    return sentences


def _blocks(path: Path):
    """(first line number, [(number, line), ...]) per sentence: runs of lines between blank or ===== lines."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if line and not _SEPARATOR.match(line):
                rows.append((number, line))
            elif rows:
                yield rows[0][0], rows
                rows = []
    if rows:
        yield rows[0][0], rows


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
    """word/TAG files: one sentence per line, tokens separated by spaces, ``# text`` lines are comments.
    Any tag spelling is taken as given (``dog/NOUN``, Brown's ``The/at Fulton/np-tl``)."""
    path = Path(path)
    sentences = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or _comment(line):
                continue
            pairs = [_split(token, path, number, "word/TAG (e.g. dog/NOUN)") for token in line.split()]
            words, tags = map(list, zip(*pairs))
            sentences.append(TaggedSentence(words, tags, [None] * len(words), f"{path.name}:{number}", number))
            if limit is not None and len(sentences) >= limit:
                break
    return _name_tags(sentences, path, "word/TAG")


def _split(token: str, path: Path, number: int, expected: str) -> tuple[str, str]:
    pair = _word_tag(token)
    if pair is None:
        raise ExplorerError(f"{path}, line {number}: {token!r} is not {expected}")
    return pair


def read_ptb_pos(path: str | Path, limit: int | None = None) -> list[TaggedSentence]:
    """Penn Treebank tagged text (``.pos``): word/TAG tokens, base noun phrases in ``[ ]`` (dropped), sentences
    between blank or ``=====`` lines. Ambiguous tags (``JJ|VBN``) are kept as given."""
    path = Path(path)
    sentences = []
    for start, rows in _blocks(path):
        words, tags, open_at = [], [], None
        for number, line in rows:
            for token in line.split():
                if token in ("[", "]"):
                    if token == "[" and open_at:  # PTB's brackets never nest
                        raise ExplorerError(f"{path}, line {number}: '[' inside the '[' of line {open_at}: "
                                            "expected [ word/TAG ... ] without nesting")
                    if token == "]" and not open_at:
                        raise ExplorerError(f"{path}, line {number}: ']' with no '[' before it")
                    open_at = number if token == "[" else None
                    continue
                word, tag = _split(token, path, number, "word/TAG (e.g. dog/NN) or a [ ] bracket")
                words.append(word)
                tags.append(tag)
        if words:
            sentences.append(TaggedSentence(words, tags, [None] * len(words), f"{path.name}:{start}", start))
        if limit is not None and len(sentences) >= limit:
            break
    return _name_tags(sentences, path, "PTB .pos")


def read_columns(path: str | Path, limit: int | None = None, word_col: int = 0,
                 tag_col: int = 1) -> list[TaggedSentence]:
    """Whitespace column files, one word per line and a blank line after each sentence (CoNLL-2000:
    ``word POS chunk``): the word and tag from the given columns (counted from 0). ``-DOCSTART-`` lines are skipped;
    ``#`` lines are words (CoNLL-2000 tags the word # as #)."""
    path = Path(path)
    if min(word_col, tag_col) < 0 or word_col == tag_col:
        raise ExplorerError(f"word column {word_col} and tag column {tag_col}: give two different columns, from 0")
    sentences, width = [], None
    for start, rows in _blocks(path):
        words, tags = [], []
        for number, line in rows:
            fields = line.split()
            width = width or len(fields)
            if len(fields) != width:
                raise ExplorerError(f"{path}, line {number}: expected {width} whitespace-separated columns as on the "
                                    f"file's first line, found {len(fields)}: {line[:80]!r}")
            if max(word_col, tag_col) >= width:
                raise ExplorerError(f"{path}, line {number}: {width} columns, so no column {max(word_col, tag_col)}: "
                                    f"choose word and tag columns from 0 to {width - 1}")
            if fields[0] == "-DOCSTART-":
                continue
            if all(_word_tag(f) for f in fields):
                raise ExplorerError(f"{path}, line {number}: word/TAG tokens in a column file: expected one word "
                                    f"and its tags per line, one format per file")
            words.append(fields[word_col])
            tags.append(fields[tag_col])
        if words:
            sentences.append(TaggedSentence(words, tags, [None] * len(words), f"{path.name}:{start}", start))
        if limit is not None and len(sentences) >= limit:
            break
    return _name_tags(sentences, path, "column-format")
