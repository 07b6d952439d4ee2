"""Checking user text and splitting it into words, the same way for every model."""
import re

from .errors import ExplorerError

# Numbers keep their decimal point, words their apostrophes and hyphens; any other symbol
# (punctuation, emoji) is a word of its own.
WORD_PATTERN = r"\d+(?:[.,]\d+)*|\w+(?:['’-]\w+)*|[^\w\s]"
_WORD = re.compile(WORD_PATTERN)
# Byte-level BPE marks a leading space with 'Ġ' and a newline with 'Ċ'; shown as ␣ and ↵ so that 'Ġold' does
# not read as 'Gold'.
BYTE_LEVEL_MARKS = {"Ġ": "␣", "Ċ": "↵"}
# Unicode's control characters (category Cc: U+0000-001F, U+007F-009F) but tab, newline and carriage return;
# one regex search instead of a category lookup per character (a treebank is checked word by word).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s")


def readable_token(token: str) -> str:
    """A model's token as shown on every page (downloads keep the tokens as they are)."""
    for mark, shown in BYTE_LEVEL_MARKS.items():
        token = token.replace(mark, shown)
    return token


def check_text(text: str, what: str = "text", fill: str = "type a sentence") -> str:
    """Reject empty text (saying what to ``fill`` in) and control characters (tabs and newlines are fine)."""
    if not isinstance(text, str):
        raise ExplorerError(f"{what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ExplorerError(f"{what} is empty: {fill}")
    bad = _CONTROL.search(text)
    if bad:
        raise ExplorerError(f"{what} contains a control character U+{ord(bad.group()):04X} at position "
                            f"{bad.start()}: remove it")
    return text


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Words with their character spans in ``text``."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(check_text(text))]


def join_words(words: list[str]) -> tuple[str, list[tuple[str, int, int]]]:
    """Gold words (e.g. from a treebank) as one text, and each word's span in it."""
    if not words:
        raise ExplorerError("the word list is empty")
    spans, pos = [], 0
    for w in words:
        check_text(w, f"word {w!r}")
        if _SPACE.search(w):
            raise ExplorerError(f"word {w!r} contains whitespace")
        spans.append((w, pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), spans
