"""The few-shot task suite written by the project, and tasks read from a user's CSV or JSON file.

A task is a list of input -> output examples, a template that writes them as text, and, for
classification, the candidate labels (scored by log-likelihood; open answers are decoded greedily).
An episode is one query plus k demonstrations drawn with a seed from the other examples, so every
model sees the same prompts.
"""
import csv
import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ExplorerError
from ..paths import SHARED_DATA
from . import icl

# natural: gold labels; flipped / random / unrelated / none: what demonstrations teach (see Task)
LABEL_MODES = ("natural", "permuted", "random", "flipped", "unrelated", "none")
UNRELATED = ("foo", "bar", "baz", "qux", "quux", "corge", "grault", "garply")  # Wei et al. (2023)-style labels


@dataclass(frozen=True)
class Example:
    input: str
    output: str


@dataclass(frozen=True)
class Template:
    """How an example is written: ``input_format`` + ``output_format`` + ``separator``.

    The query ends the prompt with ``input_format`` alone; the answer is scored (or generated) as the
    text ``output_format`` would add. Keep the space before the answer in ``output_format`` so that
    the answer's first token is the one a model saw during training (" 3", not "3" after "-> ").
    """

    input_format: str = "{input} ->"
    output_format: str = " {output}"
    separator: str = "\n"

    def __post_init__(self):
        if "{input}" not in self.input_format or "{output}" not in self.output_format:
            raise ExplorerError("a template needs {input} in its input format and {output} in its output format")

    def example(self, ex: Example) -> str:
        """The example as a demonstration; one without an output (label mode 'none') is its input alone."""
        if not ex.output:
            return self.input_format[:self.input_format.index("{input}")] + ex.input + self.separator
        return self.query(ex.input) + self.answer(ex.output) + self.separator

    def query(self, text: str) -> str:
        return self.input_format.replace("{input}", text)

    def answer(self, text: str) -> str:
        return self.output_format.replace("{output}", text)


@dataclass(frozen=True)
class Task:
    """Examples plus how to write and score them.

    labels: the candidate answers of a classification task (None: open answers, decoded greedily).
    label_mode: 'natural' (gold labels); 'permuted' (every label replaced by the next one in sorted order, in
        the demonstrations and the expected answer: a model that reads the mapping from the prompt follows
        it); 'random' (demonstrations get uniformly random labels, answers are scored against the true
        ones: how much of the accuracy comes from the mapping shown, Min et al. 2022); 'flipped' (the
        demonstrations' labels permuted as in 'permuted', the answers scored against the true ones: a model
        that follows the prompt over its prior falls below chance); 'unrelated' (every label renamed to a
        word of UNRELATED, in the demonstrations and the answers: the mapping must be learned from the
        prompt, Wei et al. 2023); 'none' (demonstrations show their inputs only).
    episode_maker: a task whose episodes are not drawn from fixed examples (`retrieval`).
    demos: a separate pool of demonstrations (SST-2's train split for its dev queries). One draw per seed
        then serves every query, so all prompts of a seed share their demonstrations (and their prefix).
    """

    name: str
    description: str
    examples: tuple[Example, ...]
    template: Template = Template()
    labels: tuple[str, ...] | None = None
    instruction: str = ""
    label_mode: str = "natural"
    episode_maker: Callable[[random.Random, int], tuple[list[Example], Example]] | None = field(
        default=None, compare=False)
    demos: tuple[Example, ...] = field(default=(), compare=False, repr=False)

    @property
    def classification(self) -> bool:
        return self.labels is not None

    @property
    def chance(self) -> float | None:
        return 1 / len(self.labels) if self.labels else None

    @property
    def base_name(self) -> str:
        """The name without its label mode ('sentiment' for 'sentiment_permuted')."""
        return self.name if self.label_mode == "natural" else self.name.removesuffix(f"_{self.label_mode}")

    def query_indices(self, n: int) -> range:
        """The first ``n`` queries (fewer when the task has fewer examples; episode-made tasks have any number)."""
        return range(n if self.episode_maker is not None else min(n, len(self.examples)))

    @property
    def max_shots(self) -> int:
        if self.demos:
            return len(self.demos)
        return len(icl.KEYS) if self.episode_maker is not None else len(self.examples) - 1

    def episode(self, index: int, k: int, seed: int) -> tuple[list[Example], Example]:
        """Query ``index`` with ``k`` demonstrations drawn with ``seed`` (the same for every model)."""
        if k < 0:
            raise ExplorerError(f"the number of shots must be 0 or more, got {k}")
        if k > self.max_shots:
            raise ExplorerError(f"{self.name} has only {self.max_shots} possible demonstrations per query; "
                                f"k={k} is too many")
        # label controls show the same inputs; a separate pool gives one draw per seed for all queries
        rng = random.Random(f"{self.base_name}:{seed}" + ("" if self.demos else f":{index}"))
        if self.episode_maker is not None:
            demos, query = self.episode_maker(rng, k)
        else:
            if not 0 <= index < len(self.examples):
                raise ExplorerError(f"{self.name} has {len(self.examples)} queries; there is no query {index}")
            if self.demos:
                return self._relabel(rng.sample(self.demos, k), self.examples[index], rng)
            others = [i for i in range(len(self.examples)) if i != index]
            demos, query = [self.examples[i] for i in rng.sample(others, k)], self.examples[index]
        return self._relabel(demos, query, rng)

    def _relabel(self, demos, query, rng):
        if self.label_mode == "permuted":
            shift = _next_label(self.labels)
            return [replace(d, output=shift[d.output]) for d in demos], replace(query, output=shift[query.output])
        if self.label_mode == "flipped":
            shift = _next_label(self.labels)
            return [replace(d, output=shift[d.output]) for d in demos], query
        if self.label_mode == "random":
            return [replace(d, output=rng.choice(self.labels)) for d in demos], query
        if self.label_mode == "none":
            return [replace(d, output="") for d in demos], query
        return demos, query  # natural; unrelated labels are renamed once, in relabel


def _next_label(labels) -> dict[str, str]:
    ordered = sorted(labels)
    return {a: b for a, b in zip(ordered, ordered[1:] + ordered[:1])}


def relabel(task: Task, mode: str) -> Task:
    """The same task with another label mode (see Task), named e.g. 'sentiment_permuted'."""
    if mode not in LABEL_MODES:
        raise ExplorerError(f"unknown label mode {mode!r}: one of {', '.join(LABEL_MODES)}")
    if mode != "natural" and not task.classification:
        raise ExplorerError(f"{task.name} has open answers: only classification tasks can have their labels "
                            "permuted or randomised")
    if mode != "natural" and len(task.labels) < 2:
        raise ExplorerError(f"{task.name} has a single label: permuting or randomising it changes nothing")
    name = task.base_name if mode == "natural" else f"{task.base_name}_{mode}"
    what = {"natural": "", "permuted": " Labels permuted: each replaced by the next in sorted order.",
            "random": " Demonstrations carry random labels; answers are scored against the true ones.",
            "flipped": " Demonstrations carry flipped labels (each the next in sorted order); answers are scored "
                       "against the true ones.",
            "unrelated": "", "none": " Demonstrations show their inputs without labels."}[mode]
    if mode == "unrelated":
        if len(task.labels) > len(UNRELATED):
            raise ExplorerError(f"{task.name} has {len(task.labels)} labels: unrelated labels exist for at most "
                                f"{len(UNRELATED)}")
        rename = dict(zip(sorted(task.labels), UNRELATED))
        what = " Labels renamed: " + ", ".join(f"{a} -> {b}" for a, b in rename.items()) + "."
        task = replace(task, examples=tuple(replace(e, output=rename[e.output]) for e in task.examples),
                       demos=tuple(replace(e, output=rename[e.output]) for e in task.demos),
                       labels=tuple(rename[lab] for lab in task.labels))
    return replace(task, name=name, label_mode=mode, description=task.description + what)


# -- the GPT-3 paper's synthetic tasks (Brown et al. 2020, section 3.9) ------------------------------
WORDS = """
about above action active actor address advice afraid afternoon again against agency almost
already always amount animal answer anyone appear around arrive article artist attack autumn
balance battle beauty become before behind believe better between beyond birthday blanket border
bottom branch breath bridge bright brother budget builder button camera candle capital captain
career carpet castle center chance change charge cheese chicken choice church circle citizen
clever climate closed coffee collect colour common corner cotton country couple course cousin
credit culture danger daughter debate decide degree dinner direct doctor dollar double dragon
dream driver during early easily eight either energy engine enough entire escape evening
exactly expect family famous farmer father figure finger finish flight flower follow forest
forget friend future garden gather gentle golden ground growth guitar happen health heavy
history holiday honest hospital hunger island jacket journey kitchen ladder language laughter
leader lesson letter listen little machine market master matter meadow memory middle minute
mirror moment monkey morning mother mountain music narrow nature needle number object ocean
office orange paper parent party pencil people person picture planet pocket poetry police
potato powder prince print problem public purple question quiet rabbit reason record river
rocket salad school season second secret silver simple sister smile soldier spirit spring
square station stone story street strong student summer supper table teacher thunder ticket
tomato travel turtle umbrella valley village visit voice wander water weather window winter
wonder worker writer yellow
""".split()
_SCRAMBLE_INSTRUCTION = "Please unscramble the letters into a word, and write that word:"
_WORD_TEMPLATE = Template("{input} =", " {output}", "\n")
_ARITHMETIC_TEMPLATE = Template("Q: What is {input}? A:", " {output}", "\n")
_INSERTED = list("!.,;:?/-'\" ")


def _shuffle_middle(rng, word, keep):
    middle = list(word[keep:-keep])
    for _ in range(10):  # reshuffle until it differs where it can
        rng.shuffle(middle)
        if "".join(middle) != word[keep:-keep]:
            break
    return word[:keep] + "".join(middle) + word[-keep:]


def _cycle(rng, word):
    shift = rng.randrange(1, len(word))
    return word[shift:] + word[:shift]


def _insert(rng, word):
    return "".join(c + rng.choice(_INSERTED) for c in word[:-1]) + word[-1]


_WORD_TASKS = {
    "cycle_letters": ("Cycle letters: the word's letters rotated; write the word.", _cycle),
    "anagram1": ("Anagram A1: all letters but the first and last shuffled; write the word.",
                 lambda rng, w: _shuffle_middle(rng, w, 1)),
    "anagram2": ("Anagram A2: all letters but the first two and last two shuffled; write the word.",
                 lambda rng, w: _shuffle_middle(rng, w, 2)),
    "random_insertion": ("Random insertion: a punctuation mark or space between every letter; write the word.",
                         _insert),
    "reversed_words": ("Reversed words: the word spelled backwards; write the word.", lambda rng, w: w[::-1]),
}


def _word_task(name):
    description, scramble = _WORD_TASKS[name]
    rng = random.Random(name)
    examples = tuple(Example(scramble(rng, w), w) for w in WORDS)
    return Task(name, description, examples, _WORD_TEMPLATE, instruction=_SCRAMBLE_INSTRUCTION)


def _arithmetic(name, sign):
    rng = random.Random(name)
    pairs = [(rng.randint(10, 99), rng.randint(10, 99)) for _ in range(200)]
    word, apply = ("plus", int.__add__) if sign == "+" else ("minus", int.__sub__)
    examples = tuple(Example(f"{a} {word} {b}", str(apply(a, b))) for a, b in pairs)
    return Task(name, f"Two-digit {'addition' if sign == '+' else 'subtraction'}, as in GPT-3's arithmetic tests.",
                examples, _ARITHMETIC_TEMPLATE)


# -- classification with natural labels --------------------------------------------------------------
_POSITIVE = """a wonderful day | a lovely gift | great fun | a happy ending | a delicious meal | a kind friend |
a beautiful song | a warm welcome | a brilliant idea | a perfect evening | a sweet surprise | good news |
a fantastic film | a cheerful smile | a pleasant walk | an excellent book | a charming town | a fine result |
a bright future | a joyful party | a helpful teacher | a gorgeous view | a cosy room | a great success |
a generous offer | a lucky win | a tasty cake | a friendly dog | a calm sea | a peaceful night"""
_NEGATIVE = """a terrible day | a broken gift | boring work | a sad ending | an awful meal | a cruel enemy |
a horrible noise | a cold welcome | a stupid mistake | a ruined evening | a nasty shock | bad news |
a dreadful film | an angry shout | a painful fall | a dull book | a dirty town | a poor result |
a bleak future | a miserable party | a rude teacher | an ugly view | a damp room | a total failure |
a mean trick | an unlucky loss | a stale cake | a vicious dog | a stormy sea | a sleepless night"""
_ANIMALS = """cat dog horse cow sheep pig goat mouse rabbit lion tiger wolf fox bear deer monkey eagle owl
duck goose frog snake whale shark dolphin camel zebra donkey spider bee"""
_OBJECTS = """chair table spoon fork knife cup plate bottle lamp clock pencil pen book shoe hat coat key
door window mirror bucket hammer ladder rope candle basket brush kettle button wallet"""


def _labelled(name, description, groups: dict[str, list[str]]):
    examples = [Example(x, label) for label, xs in groups.items() for x in xs]
    random.Random(name).shuffle(examples)
    return Task(name, description, tuple(examples), labels=tuple(sorted(groups)))


def _phrases(text):
    return [p.strip() for p in text.replace("\n", " ").split("|")]


def _sentiment():
    return _labelled("sentiment", "Sentiment of a short phrase: positive or negative.",
                     {"positive": _phrases(_POSITIVE), "negative": _phrases(_NEGATIVE)})


def _animal_object():
    return _labelled("animal_object", "Is the word an animal or an object?",
                     {"animal": _ANIMALS.split(), "object": _OBJECTS.split()})


def _first_letter():
    groups: dict[str, list[str]] = {}
    for w in WORDS:
        groups.setdefault(w[0], []).append(w)
    return _labelled("first_letter", "A word's first letter.", groups)


# -- in-context retrieval: the training mix's key -> value format ---------------------------------------
def _template_of(line_format: str) -> Template:
    """icl.TEMPLATE ("{input} {output}\\n") as a Template, moving the space before the answer into it."""
    head, tail = line_format.split("{output}")
    query = head.rstrip()
    return Template(query, head[len(query):] + "{output}", tail)


def _retrieval_episode(rng: random.Random, k: int) -> tuple[list[Example], Example]:
    keys = rng.sample(icl.KEYS, k)
    demos = [Example(key, rng.choice(icl.VALUES)) for key in keys]
    if demos:
        return demos, rng.choice(demos)
    return [], Example(rng.choice(icl.KEYS), rng.choice(icl.VALUES))


def _retrieval():
    return Task("retrieval", "In-context retrieval: k key -> value pairs of a fresh random mapping, then one of "
                "the keys; the answer is its value (chance 10 %). The same format as the mapping documents in "
                "the causal models' training mix.", (), _template_of(icl.TEMPLATE), labels=tuple(icl.VALUES),
                episode_maker=_retrieval_episode)


# -- SST-2: movie-review sentiment, a real task (GLUE layout, ../shared/data/sst2) ------------------------
SST2_LABELS = {"0": "negative", "1": "positive"}
_SST2_TEMPLATE = Template("Review: {input}\nSentiment:", " {output}", "\n\n")


@functools.lru_cache(maxsize=4)
def read_sst2(path: Path) -> tuple[Example, ...]:
    """A GLUE SST-2 file: a header, then ``sentence<TAB>label`` lines (1 = positive, 0 = negative)."""
    if not path.is_file():
        raise ExplorerError(f"{path} does not exist: SST-2 is read from {SHARED_DATA / 'sst2'} (train.tsv, dev.tsv)")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))  # reviews hold quote marks
    if not rows or [c.strip().lower() for c in rows[0]] != ["sentence", "label"]:
        raise ExplorerError(f"{path} must start with the header line sentence<TAB>label")
    examples = []
    for line, row in enumerate(rows[1:], 2):
        if len(row) != 2 or not row[0].strip() or row[1].strip() not in SST2_LABELS:
            raise ExplorerError(f"{path}, line {line}: expected a sentence, a tab and the label 0 or 1")
        examples.append(Example(row[0].strip(), SST2_LABELS[row[1].strip()]))
    found = sorted({e.output for e in examples})
    if len(found) < 2:
        raise ExplorerError(f"{path} has {len(examples)} review(s), labelled {', '.join(found) or 'nothing'}: "
                            "a sentiment task needs positive and negative reviews")
    return tuple(examples)


def sst2(folder: str | Path = SHARED_DATA / "sst2") -> Task:
    """SST-2 as a few-shot task: queries from dev.tsv, one draw of demonstrations per seed from train.tsv."""
    folder = Path(folder).expanduser().resolve()
    queries = list(read_sst2(folder / "dev.tsv"))
    random.Random("sst2").shuffle(queries)  # the file runs in label blocks; any first n queries should mix them
    return Task("sst2", "SST-2 (Socher et al. 2013): is a movie review positive or negative? Queries are the 872 "
                "dev reviews (in a fixed shuffled order), demonstrations come from the train split (one draw per "
                "seed).", tuple(queries), _SST2_TEMPLATE, labels=tuple(SST2_LABELS.values()),
                demos=read_sst2(folder / "train.tsv"))


_CLASSIFICATION = {"sentiment": _sentiment, "animal_object": _animal_object, "first_letter": _first_letter}
_BUILDERS: dict[str, Callable[[], Task]] = {
    **{name: (lambda n=name: _word_task(n)) for name in _WORD_TASKS},
    "add2": lambda: _arithmetic("add2", "+"),
    "sub2": lambda: _arithmetic("sub2", "-"),
    **_CLASSIFICATION,
    **{f"{name}_{mode}": (lambda b=build, m=mode: relabel(b(), m))
       for name, build in _CLASSIFICATION.items() for mode in ("permuted", "random")},
    "retrieval": _retrieval,
    "sst2": sst2,
}
_LABELLED = (*_CLASSIFICATION, "sst2")  # tasks that take any label mode as a suffix: sst2_flipped


def task_names() -> list[str]:
    return list(_BUILDERS)


def get_task(name_or_path: str | Path) -> Task:
    """A built-in task by name, or a task file (CSV or JSON) by path."""
    if name_or_path in _BUILDERS:
        return _BUILDERS[name_or_path]()
    base, _, mode = str(name_or_path).rpartition("_")
    if base in _LABELLED and mode in LABEL_MODES:
        return relabel(_BUILDERS[base](), mode)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in (".csv", ".json") or path.exists():
        return load_task_file(path)
    raise ExplorerError(f"unknown task {name_or_path!r}: use one of {', '.join(_BUILDERS)}, "
                        "or give a CSV/JSON file of input/output pairs")


# -- user task files ----------------------------------------------------------------------------------
def load_task_file(path: str | Path, kind: str = "auto") -> Task:
    """A task from a CSV (columns input, output) or JSON file.

    JSON: a list of {"input": ..., "output": ...} objects, or an object with "examples" (that list) and
    optionally "labels", "instruction", "name", "description" and "template" (input_format,
    output_format, separator). kind: 'classification' (candidates = labels, or the distinct outputs),
    'open' (greedy decoding), or 'auto' (classification when labels are given or outputs repeat:
    at most half as many distinct outputs as examples).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ExplorerError(f"task file {path} does not exist")
    if path.suffix.lower() == ".csv":
        rows, meta = _read_csv(path), {}
    elif path.suffix.lower() == ".json":
        rows, meta = _read_json(path)
    else:
        raise ExplorerError(f"{path} is neither .csv nor .json: write the task as a CSV with columns input,output "
                            "or a JSON list of {\"input\", \"output\"} objects")
    examples = _check_examples(path, rows)
    labels = _labels(path, examples, meta.get("labels"), kind)
    template = Template(**meta["template"]) if isinstance(meta.get("template"), dict) else Template()
    return Task(str(meta.get("name") or path.stem), str(meta.get("description") or f"user task from {path.name}"),
                tuple(examples), template, labels, str(meta.get("instruction") or ""))


def _read_csv(path):
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            rows = [{(k or "").strip().lower(): v for k, v in row.items()} for row in reader]
    except (UnicodeDecodeError, csv.Error) as e:
        raise ExplorerError(f"{path} is not a readable UTF-8 CSV file: {e}") from None
    missing = [c for c in ("input", "output") if c not in header]
    if missing:
        raise ExplorerError(f"{path} lacks the column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'}):"
                            " the first line must name the columns input,output")
    return rows


def _read_json(path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExplorerError(f"{path} is not valid JSON: {e}") from None
    meta = data if isinstance(data, dict) else {}
    rows = data.get("examples") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ExplorerError(f"{path} must hold a list of {{\"input\", \"output\"}} objects, or an object whose "
                            "\"examples\" is such a list")
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ExplorerError(f"{path}: example {i} is not an object with \"input\" and \"output\"")
        missing = [c for c in ("input", "output") if c not in row]
        if missing:
            raise ExplorerError(f"{path}: example {i} lacks {' and '.join(repr(c) for c in missing)}")
    return rows, meta


def _check_examples(path, rows) -> list[Example]:
    examples, seen = [], {}
    for i, row in enumerate(rows, 1):
        x, y = (str(row.get(c) if row.get(c) is not None else "").strip() for c in ("input", "output"))
        if not x or not y:
            raise ExplorerError(f"{path}: example {i} has an empty {'input' if not x else 'output'}: fill it in or "
                                "remove the row")
        if x in seen:
            raise ExplorerError(f"{path}: example {i} repeats the input {x!r} of example {seen[x]}: "
                                "each input may appear once")
        seen[x] = i
        examples.append(Example(x, y))
    if len(examples) < 2:
        raise ExplorerError(f"{path} has {len(examples)} example(s): a few-shot task needs at least 2 "
                            "(one to ask, one to show)")
    return examples


def _labels(path, examples, given, kind):
    if kind not in ("auto", "classification", "open"):
        raise ExplorerError(f"unknown task kind {kind!r}: 'auto', 'classification' or 'open'")
    outputs = {e.output for e in examples}
    if given is not None:
        if not isinstance(given, list) or not given:
            raise ExplorerError(f"{path}: \"labels\" must be a non-empty list of strings")
        labels = [str(g).strip() for g in given]
        if "" in labels:
            raise ExplorerError(f"{path}: \"labels\" contains an empty label")
        doubles = sorted({lab for lab in labels if labels.count(lab) > 1})
        if doubles:
            raise ExplorerError(f"{path}: \"labels\" lists {', '.join(map(repr, doubles))} more than once")
        unknown = sorted(outputs - set(labels))
        if unknown:
            raise ExplorerError(f"{path}: outputs {', '.join(map(repr, unknown[:5]))} are not among the labels")
        return None if kind == "open" else tuple(labels)
    if kind == "classification" or (kind == "auto" and len(outputs) <= len(examples) / 2):
        if len(outputs) < 2:
            raise ExplorerError(f"{path}: every output is {next(iter(outputs))!r}: a classification task needs at "
                                "least two labels")
        return tuple(sorted(outputs))
    return None
