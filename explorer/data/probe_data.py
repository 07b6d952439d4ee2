"""A probing task's data, read in one place for the `probe` command and the Probing lab: the demo sets that ship
with the app, the real sets in ../shared/data, or the user's own files."""
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExplorerError
from ..paths import SHARED_DATA
from . import conllu, senses, wic

DEMO_POS = dict(train=conllu.DEMO_POS_TRAIN, test=conllu.DEMO_POS_TEST)
DEMO_SENSES = dict(train=senses.DEMO_SENSES_TRAIN, test=senses.DEMO_SENSES_TEST)  # WSD, WiC pairs, geometry
SHARED = {"pos": dict(train=SHARED_DATA / "ud_english_ewt" / "en_ewt-ud-train.conllu",
                      test=SHARED_DATA / "ud_english_ewt" / "en_ewt-ud-test.conllu"),
          "wsd": dict(train=SHARED_DATA / "semcor30_wn30" / "semcor.data.xml",
                      test=SHARED_DATA / "wsd_eval_framework" / "Evaluation_Datasets" / "ALL" / "ALL.data.xml")}


@dataclass
class ProbeData:
    """What a probing run reads: training and test items (tagged sentences, sense-labelled sentences or WiC
    pairs; geometry's contexts are its test items), the files they came from and how they were cut."""

    task: str
    train: list
    test: list
    files: dict[str, Path]  # role -> file: train, test, dev, wordnet; geometry: contexts0, contexts1, ...
    name: str = "demo"  # the test set's name: "demo", else its file's stem (the task wsd/NAME, wic/NAME)
    dev: list | None = None  # the items that choose the layer (else a seeded slice of train)
    first_senses: dict | None = None  # WSD: WordNet's first senses, the last fallback
    train_limit: int | None = None  # POS: the first N sentences were read; WSD: the probe samples N
    test_limit: int | None = None
    word_col: int | None = None  # POS column files: which columns hold the word and the tag
    tag_col: int | None = None


def shared_files(task: str) -> dict[str, Path] | None:
    """The task's real train and test files in ../shared/data, where all of them are there."""
    files = SHARED.get(task)
    return files if files and all(p.exists() for p in files.values()) else None


def read(task: str, train=None, test=None, *, dev=None, train_limit: int | None = None,
         test_limit: int | None = None, word_col: int | None = None, tag_col: int | None = None, wordnet=None,
         seed: int = 0) -> ProbeData:
    """``task``'s data (pos, wsd, wic or geometry) from ``train`` and ``test``: both, or neither for the demo sets
    (geometry reads only ``test``: the contexts). WiC reads ``*.txt`` as WiC pairs, other files as sense-labelled
    contexts paired with ``seed``; WSD reads ``wordnet``'s first senses."""
    if task == "geometry":
        paths = [Path(test)] if test else list(DEMO_SENSES.values())
        return ProbeData(task, [], [s for p in paths for s in senses.read_sense_file(p)],
                         {f"contexts{i}": p for i, p in enumerate(paths)})
    if (train is None) != (test is None):
        raise ExplorerError("give both --train and --test, or neither (then the demo sets are used)")
    if any(n is not None and n < 1 for n in (train_limit, test_limit)):
        raise ExplorerError("--train-limit and --test-limit must be at least 1")
    files = {role: Path(p) for role, p in (dict(train=train, test=test) if test else
                                            DEMO_POS if task == "pos" else DEMO_SENSES).items()}
    name = files["test"].name.split(".")[0] if test else "demo"
    files |= dict(dev=Path(dev)) if dev else {}
    if task == "pos":
        columns = dict(word_col=word_col, tag_col=tag_col)
        return ProbeData(task, conllu.read_pos_file(files["train"], train_limit, **columns),
                         conllu.read_pos_file(files["test"], test_limit, **columns), files, name,
                         dev=conllu.read_pos_file(files["dev"], **columns) if dev else None, train_limit=train_limit,
                         test_limit=test_limit, **columns)
    if task == "wsd":
        files |= dict(wordnet=Path(wordnet)) if wordnet else {}
        return ProbeData(task, senses.read_sense_file(files["train"]), senses.read_sense_file(files["test"]), files,
                         name, dev=senses.read_sense_file(files["dev"]) if dev else None,
                         first_senses=senses.wordnet_first_senses(wordnet) if wordnet else None,
                         train_limit=train_limit)

    def pairs(path: Path) -> list:
        return wic.read_wic(path) if path.suffix == ".txt" else wic.pairs_from_senses(senses.read_sense_file(path),
                                                                                      seed=seed)

    return ProbeData(task, pairs(files["train"]), pairs(files["test"]), files, name,
                     dev=pairs(files["dev"]) if dev else None)
