"""Sense-annotated text: the WSD evaluation framework's XML + gold key format, and the project's demo contexts.

Raganato et al. (2017) gave SemCor and the Senseval/SemEval test sets one format: ``<corpus><text>
<sentence>`` holding ``<wf>`` words and ``<instance id lemma pos>`` words to disambiguate, with the
answers in a separate ``ID KEY [KEY ...]`` file (any listed key counts as correct). An instance can
span several words ("took place"); it keeps its word span. Senseval-2/3 lexical-sample XML (one target word
per instance, answers inline) is read into the same sentences-with-instances structure.
"""
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExplorerError
from .conllu import DEMO, first_line

DEMO_SENSES_TRAIN = DEMO / "senses_train.tsv"
DEMO_SENSES_TEST = DEMO / "senses_test.tsv"
# The five test sets Raganato et al. concatenate into ALL (instance ids start with their name).
FRAMEWORK_PARTS = ("senseval2", "senseval3", "semeval2007", "semeval2013", "semeval2015")
_ITEM = re.compile(r"^(.+)[.-]([nvasr])$")  # a Senseval item: lemma and POS letter, "line-n" or "art.n"


@dataclass(frozen=True)
class SenseInstance:
    """A word (or multiword expression) to disambiguate: words[start:end] of its sentence."""

    id: str
    lemma: str
    pos: str
    start: int
    end: int
    keys: tuple[str, ...]

    @property
    def part(self) -> str:
        """The test set an instance of a concatenated set (ALL) comes from: its id's first component."""
        return self.id.split(".")[0]


@dataclass
class SenseSentence:
    sent_id: str
    words: list[str]
    instances: list[SenseInstance]


def read_sense_file(path: str | Path, keys: str | Path | None = None) -> list[SenseSentence]:
    """A demo ``*.tsv`` (by extension), Senseval lexical-sample XML (``<lexelt>`` near its start) or a
    WSD-framework ``*.data.xml`` with its gold key file."""
    path = Path(path)
    first_line(path, "a WSD-framework *.data.xml file, a Senseval lexical-sample XML file or a sense .tsv file")
    if path.suffix == ".tsv":
        return read_sense_tsv(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        head = f.read(4096)
    return read_senseval(path, keys) if "<lexelt" in head else read_wsd_xml(path, keys)


def key_file_for(xml_path: Path) -> Path:
    """The framework names the key next to the data: X.data.xml -> X.gold.key.txt."""
    if not xml_path.name.endswith(".data.xml"):
        raise ExplorerError(f"{xml_path} is not named *.data.xml: give its gold key file explicitly")
    return xml_path.with_name(xml_path.name[: -len(".data.xml")] + ".gold.key.txt")


def read_keys(path: str | Path, id_field: int = 0) -> dict[str, tuple[str, ...]]:
    """``ID KEY [KEY ...]`` lines (Senseval's key files lead with the item: ``id_field=1``)."""
    path = Path(path)
    if not path.is_file():
        raise ExplorerError(f"gold key file {path} does not exist: the framework keeps it next to the data "
                            "as NAME.gold.key.txt")
    keys = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < id_field + 2:
                raise ExplorerError(f"{path}, line {number}: expected '{'ITEM ' * id_field}INSTANCE_ID KEY "
                                    f"[KEY ...]', got {line.strip()!r}")
            keys[fields[id_field]] = tuple(fields[id_field + 1:])
    return keys


def read_wsd_xml(path: str | Path, keys: str | Path | None = None) -> list[SenseSentence]:
    """Every sentence of a framework XML file, its instances labelled from the gold key file."""
    path = Path(path)
    gold = read_keys(keys or key_file_for(path))
    sentences, missing = [], []
    try:
        for _, element in ET.iterparse(path, events=("end",)):
            if element.tag != "sentence":
                continue
            sentences.append(_sentence(element, gold, missing))
            element.clear()
    except ET.ParseError as e:
        raise ExplorerError(f"{path} is not valid XML: {e}") from None
    if missing:
        raise ExplorerError(f"{len(missing)} instance ids of {path} are missing from its key file "
                            f"(first: {', '.join(missing[:5])}): give the key file that belongs to this data")
    if not sentences:
        raise ExplorerError(f"{path} holds no <sentence> elements: it is not a WSD-framework file")
    return sentences


def _sentence(element, gold: dict, missing: list) -> SenseSentence:
    words, instances = [], []
    for child in element:
        # An instance may be a multiword expression ("took place"): its words stay separate.
        parts = (child.text or "").split()
        if not parts:
            raise ExplorerError(f"sentence {element.get('id')}: an empty <{child.tag}> element")
        if child.tag == "instance":
            iid = child.get("id")
            if iid not in gold:
                missing.append(iid)
            instances.append(SenseInstance(iid, child.get("lemma", "").lower(), child.get("pos", ""),
                                           len(words), len(words) + len(parts), gold.get(iid, ())))
        words += parts
    return SenseSentence(element.get("id"), words, instances)


def read_senseval(path: str | Path, keys: str | Path | None = None) -> list[SenseSentence]:
    """Senseval-2/3 lexical-sample XML, as NLTK's ``senseval`` corpus: ``<lexelt item="line-n">`` groups of
    ``<instance id>`` with ``<answer senseid>`` (one or more) and a ``<context>`` whose ``<head>`` is the target.
    Test sets keep their answers in a key file of ``ITEM INSTANCE_ID SENSE [SENSE ...]`` lines: ``keys``, or
    NAME.key beside the data.

    Each instance is one SenseSentence of its context's words (text, and ``<wf>`` words as NLTK's files hold them).
    The item gives lemma and POS ("line-n", "art.n"). Keys are ``lemma%senseid`` (Senseval-3's numeric ids and
    NLTK's "cord" would collide across lemmas), WordNet sense keys (Senseval-2's ``art%1:06:00::``) stay as given.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ExplorerError(f"{path} is not valid XML ({e}): expected Senseval <lexelt> elements") from None
    beside = path.with_name(path.name + ".key")
    gold = read_keys(keys or beside, id_field=1) if keys or beside.is_file() else {}
    sentences = []
    for lexelt in root:
        if lexelt.tag != "lexelt" or not lexelt.get("item"):
            raise ExplorerError(f"{path}: a <{lexelt.tag}> element where a Senseval file has <lexelt item=...>: "
                                "one format per file")
        item = _ITEM.match(lexelt.get("item"))
        lemma, pos = (item[1], _WORDNET_POS[item[2]]) if item else (lexelt.get("item"), "")
        lemma = lemma.lower()
        for element in lexelt.iter("instance"):
            sentences.append(_senseval_instance(element, lemma, pos, path, gold))
    if not sentences:
        raise ExplorerError(f"{path} holds no Senseval <instance> elements")
    return sentences


def _senseval_instance(element, lemma: str, pos: str, path: Path, gold: dict) -> SenseSentence:
    iid = element.get("id")
    senses = [a.get("senseid") for a in element.iter("answer") if a.get("senseid")] or gold.get(iid)
    if not senses:
        raise ExplorerError(f"{path}: instance {iid} has no <answer senseid=...> and no line in a key file "
                            f"({path.name}.key beside it): the probe needs each instance's sense")
    words, span = [], None

    def walk(el):  # words in document order; the first <head> is the target
        nonlocal span
        if el.tag == "head" and span is None:
            start = len(words)
            words.extend("".join(el.itertext()).split())
            span = (start, len(words)) if len(words) > start else None
        else:
            words.extend((el.text or "").split())
            for child in el:
                walk(child)
                words.extend((child.tail or "").split())

    for context in element.iter("context"):
        walk(context)
    if span is None:
        raise ExplorerError(f"{path}: instance {iid} has no <head> word: mark the target in its <context> as "
                            "<head>word</head>")
    keys = tuple(k if "%" in k else f"{lemma}%{k}" for k in senses)
    return SenseSentence(iid, words, [SenseInstance(iid, lemma, pos, *span, keys)])


def read_sense_tsv(path: str | Path) -> list[SenseSentence]:
    """Demo format: ``lemma<TAB>pos<TAB>sense<TAB>sentence`` with the target word marked as *word*.

    A sense's key is ``lemma%sense``, so keys never collide across lemmas.
    """
    path = Path(path)
    sentences = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                raise ExplorerError(f"{path}, line {number}: expected lemma, pos, sense and sentence separated by "
                                    f"tabs, found {len(fields)} fields")
            lemma, pos, sense, text = fields
            words = text.split()
            marked = [i for i, w in enumerate(words) if len(w) > 2 and w.startswith("*") and w.endswith("*")]
            if len(marked) != 1:
                raise ExplorerError(f"{path}, line {number}: mark exactly one target word as *word* "
                                    f"(found {len(marked)})")
            i = marked[0]
            words[i] = words[i][1:-1]
            sid = f"{path.stem}.{number}"
            sentences.append(SenseSentence(sid, words, [SenseInstance(sid, lemma, pos, i, i + 1, (f"{lemma}%{sense}",))]))
    if not sentences:
        raise ExplorerError(f"{path} holds no sense-labelled sentences")
    return sentences


# -- WordNet's first senses --------------------------------------------------------------------------

_WORDNET_POS = {"n": "NOUN", "v": "VERB", "a": "ADJ", "s": "ADJ", "r": "ADV"}
_SENSE_ID = re.compile(r"^ {4}(?:- |  )id: (.+)$")


def wordnet_first_senses(path: str | Path) -> dict[tuple[str, str], str]:
    """(lemma, POS) -> the lemma's first WordNet sense key, from Open English WordNet's source YAML
    (the release zip, or its unpacked ``yaml`` folder). ELMo and the framework's MFS baseline back off
    to this sense for lemmas that SemCor never annotates.

    The entries files list each lemma's senses in WordNet's order; they are scanned line by line
    (the whole YAML takes a minute to parse, the scan a few seconds).
    """
    path = Path(path)
    if path.is_dir():
        texts = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(path.glob("entries-*.yaml"))]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            texts = [(n, z.read(n).decode("utf-8")) for n in sorted(z.namelist())
                     if Path(n).name.startswith("entries-") and n.endswith(".yaml")]
    else:
        raise ExplorerError(f"{path} is neither Open English WordNet's YAML zip nor its yaml folder")
    if not texts:
        raise ExplorerError(f"{path} holds no entries-*.yaml files: give Open English WordNet's source YAML")
    first: dict[tuple[str, str], str] = {}
    for _, text in texts:
        _scan_entries(text, first)
    return first


def _scan_entries(text: str, first: dict) -> None:
    import yaml

    def scalar(text):  # 'single-quoted' scalars double their quotes ('queen''s'); "double" ones may escape more
        if text[:1] == "'":
            return text[1:-1].replace("''", "'")
        return str(yaml.safe_load(text)) if text[:1] == '"' else text

    lemma = pos = None
    for line in text.splitlines():
        if line and not line[0].isspace():
            lemma = scalar(line[:-1]).lower().replace(" ", "_")
            pos = None
        elif line.startswith("  ") and not line.startswith("   ") and line.endswith(":"):
            pos = _WORDNET_POS.get(line.strip()[:-1].split("-")[0])  # "n-1", "n-2": homographs
        elif pos is not None:
            m = _SENSE_ID.match(line)
            if m:
                first.setdefault((lemma, pos), scalar(m.group(1)))
                pos = None  # only the first sense counts
