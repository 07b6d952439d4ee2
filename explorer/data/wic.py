"""Word-in-Context pairs (Pilehvar & Camacho-Collados 2019): is a word used in the same sense in two sentences?

File format, as WiC distributes it: ``NAME.data.txt`` with tab-separated lemma, POS, the target's
word index in each sentence ("3-5", 0-based over the space-separated words), sentence 1 and
sentence 2; and ``NAME.gold.txt`` with one T or F per line.
"""
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExplorerError
from .senses import SenseSentence


@dataclass(frozen=True)
class WicPair:
    lemma: str
    pos: str
    words1: tuple[str, ...]
    index1: int
    words2: tuple[str, ...]
    index2: int
    same: bool


def gold_file_for(data_path: Path) -> Path:
    if not data_path.name.endswith(".data.txt"):
        raise ExplorerError(f"{data_path} is not named *.data.txt: give its gold file explicitly")
    return data_path.with_name(data_path.name[: -len(".data.txt")] + ".gold.txt")


def read_wic(path: str | Path, gold: str | Path | None = None) -> list[WicPair]:
    path = Path(path)
    if not path.is_file():
        raise ExplorerError(f"{path} does not exist: give a WiC NAME.data.txt file")
    gold = Path(gold) if gold else gold_file_for(path)
    if not gold.is_file():
        raise ExplorerError(f"gold file {gold} does not exist: WiC keeps it next to the data as NAME.gold.txt")
    labels = [(n, line.strip()) for n, line in enumerate(gold.read_text(encoding="utf-8").splitlines(), 1)
              if line.strip()]
    rows = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    if len(labels) != len(rows):
        raise ExplorerError(f"{path} has {len(rows)} pairs but {gold} has {len(labels)} labels: they must match")
    pairs = [_pair(line, label, path, n, gold, m) for (n, line), (m, label) in zip(rows, labels)]
    if not pairs:
        raise ExplorerError(f"{path} holds no pairs")
    return pairs


def _pair(line, label, path, number, gold, gold_number) -> WicPair:
    fields = line.split("\t")
    if len(fields) != 5:
        raise ExplorerError(f"{path}, line {number}: expected lemma, POS, index pair, sentence 1 and sentence 2 "
                            f"separated by tabs, found {len(fields)} fields")
    lemma, pos, indices, s1, s2 = fields
    if label not in ("T", "F"):
        raise ExplorerError(f"{gold}, line {gold_number}: expected T or F, found {label!r}")
    try:
        i1, i2 = (int(x) for x in indices.split("-"))
    except ValueError:
        raise ExplorerError(f"{path}, line {number}: index pair {indices!r} is not two numbers like 3-5") from None
    w1, w2 = tuple(s1.split()), tuple(s2.split())
    if not (0 <= i1 < len(w1) and 0 <= i2 < len(w2)):
        raise ExplorerError(f"{path}, line {number}: index pair {indices} is outside the sentences "
                            f"({len(w1)} and {len(w2)} words)")
    return WicPair(lemma, pos, w1, i1, w2, i2, label == "T")


def pairs_from_senses(sentences: list[SenseSentence], per_lemma: int = 12, seed: int = 0,
                      contexts_per_lemma: int = 48) -> list[WicPair]:
    """Balanced WiC-style pairs from sense-labelled contexts: same sense -> T, different -> F, up to ``per_lemma``
    a lemma, drawn among at most ``contexts_per_lemma`` of its contexts (a seeded sample): SemCor has lemmas with
    thousands of contexts, whose every pair would take millions of pairs and gigabytes to choose a dozen."""
    rng = random.Random(seed)
    by_lemma: dict[tuple, list] = {}
    for s in sentences:
        for inst in s.instances:
            by_lemma.setdefault((inst.lemma, inst.pos), []).append((s, inst))
    pairs = []
    for (lemma, pos), contexts in sorted(by_lemma.items()):
        if len(contexts) > contexts_per_lemma:
            contexts = rng.sample(contexts, contexts_per_lemma)
        groups = {True: [], False: []}
        for (s1, a), (s2, b) in itertools.combinations(contexts, 2):
            same = bool(set(a.keys) & set(b.keys))
            groups[same].append(WicPair(lemma, pos, tuple(s1.words), a.start, tuple(s2.words), b.start, same))
        k = min(per_lemma // 2, len(groups[True]), len(groups[False]))
        pairs += rng.sample(groups[True], k) + rng.sample(groups[False], k)
    return pairs
