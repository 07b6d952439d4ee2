"""Transfer tasks: UPOS on UD English-EWT (token level), SST-2 (sentence level), or a user's file.

A task is train and test rows plus its level; a token task's row holds a sentence's words and their tags,
a sentence task's row a text (and, for pairs, a second text) and its label.
"""
import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..data.conllu import read_conllu
from ..errors import ExplorerError
from ..paths import SHARED_DATA

SST2_WORDS = {"0": "negative", "1": "positive"}  # how prompts write SST-2's labels


@dataclass(frozen=True)
class Row:
    text: str | tuple[str, ...]  # a text, or a token task's words
    label: str | tuple[str, ...]  # the label, or one tag per word
    text_b: str | None = None  # the second text of a sentence pair


@dataclass
class TaskData:
    name: str
    level: str  # "token" or "sentence"
    train: list[Row]
    test: list[Row]
    label_words: dict = field(default_factory=dict)  # label -> the word a prompt answers with
    note: str = ""

    def labels(self, rows: list[Row]) -> list[str]:
        """Every label of ``rows``, flattened over words for a token task."""
        return [t for r in rows for t in r.label] if self.level == "token" else [r.label for r in rows]


def subsample(rows: list[Row], n: int | None, seed: int) -> tuple[list[Row], str]:
    """``n`` rows drawn with ``seed`` (all of them when n is None or larger, saying so)."""
    if n is None or n >= len(rows):
        return list(rows), "" if n is None or n == len(rows) else f"n={n} > {len(rows)} training rows: used all"
    return random.Random(seed).sample(rows, n), ""


def upos(limit: int | None = None, test_limit: int | None = None) -> TaskData:
    """UD English-EWT train -> test, universal POS tags."""
    folder = _shared("ud_english_ewt")
    return TaskData("upos", "token", _tagged(folder / "en_ewt-ud-train.conllu", limit),
                    _tagged(folder / "en_ewt-ud-test.conllu", test_limit))


def sst2(limit: int | None = None, test_limit: int | None = None) -> TaskData:
    """SST-2 train phrases -> dev sentences (GLUE's test labels are hidden, so dev is the test set).
    ``test_limit`` draws a seeded sample: dev is sorted by label, so its head is one class."""
    folder = _shared("sst2")
    return TaskData("sst2", "sentence", read_table(folder / "train.tsv", limit),
                    subsample(read_table(folder / "dev.tsv"), test_limit, 0)[0], dict(SST2_WORDS))


def read_task(path: str | Path, test: str | Path | None = None, limit: int | None = None,
              test_limit: int | None = None) -> TaskData:
    """A user's CoNLL-U (token task) or CSV/TSV (sentence task) file; without a test file the last fifth
    (after a seeded shuffle) is held out."""
    path = Path(path)
    read = _tagged if path.suffix == ".conllu" else read_table
    level = "token" if path.suffix == ".conllu" else "sentence"
    rows = read(path, limit)
    note = ""
    if test is None:
        if len(rows) < 2:
            raise ExplorerError(f"{path} has {len(rows)} row: give --test or at least two rows to hold one out")
        rows = random.Random(0).sample(rows, len(rows))
        cut = max(1, len(rows) // 5)
        rows, held = rows[cut:], rows[:cut][:test_limit]
        note = f"no test file: {len(held)} of {path.name}'s rows held out"
    else:
        held = read(Path(test), test_limit)
    labels = {} if level == "token" else {r.label: r.label for r in rows}
    return TaskData(path.stem, level, rows, held, labels, note)


def _shared(name: str) -> Path:
    folder = SHARED_DATA / name
    if not folder.is_dir():
        raise ExplorerError(f"{folder} is absent: the shared data folder ../shared/data is needed for this task")
    return folder


def _tagged(path: Path, limit) -> list[Row]:
    _check_text_file(path)
    return [Row(tuple(s.words), tuple(s.upos)) for s in read_conllu(path, limit)]


def read_table(path: str | Path, limit: int | None = None) -> list[Row]:
    """CSV or TSV (by extension) with a header naming ``text`` (or ``sentence``), optional ``text_b`` and
    ``label``."""
    path = Path(path)
    _check_text_file(path)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",",
                                quoting=csv.QUOTE_NONE if path.suffix == ".tsv" else csv.QUOTE_MINIMAL)
        columns = reader.fieldnames or []
        text = next((c for c in ("text", "sentence") if c in columns), None)
        if text is None or "label" not in columns:
            raise ExplorerError(f"{path} needs columns text (or sentence) and label, optionally text_b; its header "
                                f"has {', '.join(columns) or 'nothing'}")
        rows = []
        for line, record in enumerate(reader, 2):
            if limit is not None and len(rows) >= limit:
                break
            if not (record[text] or "").strip() or not (record["label"] or "").strip():
                raise ExplorerError(f"{path}, line {line}: empty text or label")
            rows.append(Row(record[text].strip(), record["label"].strip(),
                            (record.get("text_b") or "").strip() or None))
    if not rows:
        raise ExplorerError(f"{path} has a header but no rows")
    return rows


def _check_text_file(path: Path) -> None:
    if not path.is_file():
        raise ExplorerError(f"{path} does not exist: give a CoNLL-U (.conllu), CSV or TSV file")
    with open(path, "rb") as f:
        head = f.read(8192)
    if b"\0" in head:
        raise ExplorerError(f"{path} is a binary file: give a CoNLL-U (.conllu), CSV or TSV text file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # a cut multi-byte character at the end of the sample is fine
            raise ExplorerError(f"{path} is not UTF-8 text (byte {e.start}): save it as UTF-8") from None
