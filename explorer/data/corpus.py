"""Text corpora for training: local files and folders, named public corpora, and the shipped training corpus.

A corpus is plain text, one sentence (or paragraph) per line. A *built* corpus is a folder holding
``train.txt``, ``valid.txt`` and ``manifest.json`` (every source file with its sha256 and counts);
any other file or folder of ``.txt`` files is read as it is and a validation slice is held out here.
No torch here: the CLI's ``corpus`` command imports this module.
"""
import json
import os
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ExplorerError
from ..paths import LT_HOME, file_sha256

VALID_EVERY = 50  # every 50th line is held out for validation
CACHE = LT_HOME / "corpora"
# Where named corpora are fetched from instead of their upstream URLs (a folder laid out like ../shared/data).
MIRROR_ENV = "LT_CORPUS_MIRROR"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Named:
    """A public corpus file: where it lives upstream, its checksum, and its path in a mirror folder."""

    url: str
    sha256: str
    mirror_path: str


_GUTENBERG = "https://raw.githubusercontent.com/juletx/corpus-linguistics/40911b40bb70ea1403dda57156204689b7eaf98c/data/gutenberg/"
_WIKITEXT = ("https://raw.githubusercontent.com/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/"
             "word_language_model/data/wikitext-2/")
_EWT = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/r2.16/"
NAMED = {
    **{f"gutenberg/{book}": Named(_GUTENBERG + f"{book}.txt", sha, f"gutenberg_nltk_sentences/{book}.txt")
       for book, sha in {
           "austen-emma": "76a28c636265905bcf72712d80d1c6e773e55279b919b843825cb2770b99e59e",
           "austen-persuasion": "8e3cd75843eae6578c0b8f48350615ed653910b3f645e514391e07ba5eb2e40c",
           "austen-sense": "22327c09d537811b7f15006aaad69ad25d98b8c5f2a6fb0203ec13e9f3982d84",
           "bryant-stories": "957ece2242697855a68d6a0216a0c6443dab7ed2d17da3f86e379035b849fca2",
           "burgess-busterbrown": "4e4242a7c5c7e0703ea9b9daa1b6b61e7cafca902748a4be64d9ec9b55b09c6a",
           "carroll-alice": "b430be55ff4362199591ff6958afbcd0dc4e1a28d0d9c6796b780c207d7c8760",
           "chesterton-ball": "e21f058f0cbf7c14189c973006ba214b90c733d581ca0fc69b99e3d75b068445",
           "chesterton-brown": "db337dcffb50771b2415b69a2775d372578804e65f8fdec6e53c096b95d95e99",
           "chesterton-thursday": "10e1acb6c64ba4d2ca89697c7bf923798797f5c24f139b6e451b5b7d6d7482d0",
           "edgeworth-parents": "bd9bc2cfaadf7acbffa8dd63569041624a659cf753e5d8d31c7300c1c004f297",
       }.items()},
    "wikitext2/valid": Named(_WIKITEXT + "valid.txt",
                             "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8", "wikitext2_v1/valid.txt"),
    "wikitext2/test": Named(_WIKITEXT + "test.txt",
                            "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0", "wikitext2_v1/test.txt"),
    "ewt/train": Named(_EWT + "en_ewt-ud-train.conllu",
                       "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
                       "ud_english_ewt/en_ewt-ud-train.conllu"),
}


@dataclass
class Corpus:
    """Training and validation lines, and the manifest that says exactly where they came from."""

    train: list[str]
    valid: list[str]
    manifest: dict = field(default_factory=dict)


def n_tokens(lines: list[str]) -> int:
    """Whitespace tokens: the corpus-level count that does not depend on any model's tokenizer."""
    return sum(len(line.split()) for line in lines)


def read_lines(path: Path) -> tuple[list[str], int]:
    """Non-empty lines of one text file, and how many lines were skipped as invalid UTF-8."""
    lines, skipped = [], 0
    for raw in path.read_bytes().split(b"\n"):  # a last line without a newline is read like any other
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            skipped += 1
            continue
        line = _CONTROL.sub(" ", line).strip()  # control characters (and \r) would trip check_text later
        if line:
            lines.append(line)
    return lines, skipped


def text_files(path: Path) -> list[Path]:
    """A file, or the .txt files of a folder (recursively, in a stable order)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise ExplorerError(f"{path} holds no .txt files: give a text file or a folder of .txt files")
        return files
    raise ExplorerError(f"corpus {path} does not exist: give a text file, a folder of .txt files, "
                        "or a folder built by `python -m explorer corpus build`")


def split_validation(lines: list[str], every: int = VALID_EVERY) -> tuple[list[str], list[str]]:
    """Every ``every``-th line to validation, the rest to training (deterministic, spread over the text)."""
    if len(lines) < 2:
        raise ExplorerError(f"the corpus has {len(lines)} line(s): it needs at least 2 (one is held out for validation)")
    every = min(every, len(lines))
    valid = [line for i, line in enumerate(lines) if i % every == every - 1]
    train = [line for i, line in enumerate(lines) if i % every != every - 1]
    return train, valid


def _file_entry(path: Path, lines: list[str], name: str | None = None) -> dict:
    return dict(name=name or path.name, file=str(path), sha256=file_sha256(path), lines=len(lines), tokens=n_tokens(lines))


def load_corpus(path: str | Path, valid_every: int = VALID_EVERY) -> Corpus:
    """A built corpus folder (train.txt + valid.txt + manifest.json), or any text file / folder of .txt files."""
    path = Path(path).expanduser()
    if path.is_dir() and (path / "manifest.json").exists():
        return _load_built(path)
    lines, skipped, sources = [], 0, []
    for f in text_files(path):
        file_lines, file_skipped = read_lines(f)
        lines += file_lines
        skipped += file_skipped
        sources.append(_file_entry(f, file_lines) | dict(skipped_invalid_utf8=file_skipped))
    if not lines:
        raise ExplorerError(f"corpus {path} is empty ({skipped} line(s) of invalid UTF-8 skipped): "
                            "give text with one sentence per line")
    train, valid = split_validation(lines, valid_every)
    manifest = dict(sources=sources, valid_every=min(valid_every, len(lines)), skipped_invalid_utf8=skipped,
                    train=dict(lines=len(train), tokens=n_tokens(train)), valid=dict(lines=len(valid), tokens=n_tokens(valid)))
    return Corpus(train, valid, manifest)


def _load_built(folder: Path) -> Corpus:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except json.JSONDecodeError as e:
        raise ExplorerError(f"{folder / 'manifest.json'} is not valid JSON ({e}): rebuild the corpus") from None
    parts = {}
    for split in ("train", "valid"):
        file = folder / f"{split}.txt"
        if not file.exists():
            raise ExplorerError(f"{file} is missing: rebuild the corpus with `python -m explorer corpus build`")
        parts[split], skipped = read_lines(file)
        if not parts[split]:
            raise ExplorerError(f"{file} is empty: rebuild the corpus with `python -m explorer corpus build`")
        expected = manifest.get(split, {}).get("sha256")
        if expected and file_sha256(file) != expected:
            raise ExplorerError(f"{file} differs from its manifest (sha256): rebuild the corpus")
    return Corpus(parts["train"], parts["valid"], manifest)


# -- named public corpora ------------------------------------------------------------------------

def fetch(url: str, sha256: str, cache_dir: str | Path = CACHE, filename: str | None = None) -> Path:
    """Download ``url`` into ``cache_dir`` once, checking its sha256; a cached file is checked, not refetched."""
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / (filename or url.rstrip("/").rsplit("/", 1)[-1])
    if target.exists():
        if file_sha256(target) == sha256:
            return target
        target.unlink()  # a corrupted or stale copy: fetch it again
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExplorerError(f"cannot create the cache folder {cache_dir} ({e.strerror}): choose a writable one") from None
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as f:
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        part.unlink(missing_ok=True)
        raise ExplorerError(f"could not download {url} ({e}). Offline? Download it elsewhere and put it at {target}, "
                            f"or set {MIRROR_ENV} to a folder laid out like ../shared/data") from None
    got = file_sha256(part)
    if got != sha256:
        part.unlink()
        raise ExplorerError(f"{url} has sha256 {got}, expected {sha256}: the file changed upstream or the download "
                            "was corrupted; nothing was kept")
    os.replace(part, target)
    return target


def fetch_named(name: str, cache_dir: str | Path = CACHE, mirror: str | None = None) -> Path:
    """A named public corpus file (see NAMED), from its upstream URL or a mirror (URL or folder) of ../shared/data."""
    if name not in NAMED:
        raise ExplorerError(f"unknown corpus {name!r}: one of {', '.join(NAMED)}")
    entry = NAMED[name]
    mirror = mirror or os.environ.get(MIRROR_ENV)
    url = entry.url
    if mirror:
        url = mirror.rstrip("/") + "/" + entry.mirror_path
        if "://" not in mirror:
            url = Path(url).resolve().as_uri()
    return fetch(url, entry.sha256, Path(cache_dir) / name.split("/")[0], Path(entry.mirror_path).name)


# -- the shipped training corpus -----------------------------------------------------------------

def gutenberg_lines(path: Path) -> list[str]:
    return read_lines(path)[0]


UNK = "<unk>"
_JOINERS = ("@-@", "@,@", "@.@")  # WikiText's split marks inside numbers and hyphenated words


def _drop_unk(words: list[str]) -> list[str]:
    """Words without ``<unk>`` and without the joiners attached to one (which would dangle: 'by @-@ ,')."""
    def attached(i):
        return words[i] in _JOINERS and UNK in words[max(i - 1, 0):i] + words[i + 1:i + 2]
    return [w for i, w in enumerate(words) if w != UNK and not attached(i)]


def wikitext_lines(path: Path) -> list[str]:
    """WikiText paragraphs without headings, one sentence per line, its @-@ number splits joined again.

    WikiText's ``<unk>`` (a rare word replaced) is dropped: kept, a tokenizer learns it as the characters < unk >."""
    out = []
    for line in read_lines(path)[0]:
        if line.startswith("=") and line.endswith("="):
            continue
        line = " ".join(_drop_unk(line.split()))
        line = line.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
        out += [s for s in re.split(r"(?<= [.!?]) (?=[A-Z\"'])", line) if s.strip()]
    return out


def semcor_lines(path: Path) -> list[str]:
    """SemCor's running text: the words (<wf> and <instance>) of each <sentence>, joined by spaces."""
    out = []
    for _, elem in ET.iterparse(path, events=("end",)):
        if elem.tag == "sentence":
            words = [w.text for w in elem if w.tag in ("wf", "instance") and w.text]
            if words:
                out.append(" ".join(words))
            elem.clear()
    return out


def ewt_text_lines(path: Path) -> list[str]:
    """The ``# text =`` line of every sentence in a CoNLL-U file."""
    return [line[len("# text = "):].strip() for line in read_lines(path)[0] if line.startswith("# text = ")]


# (label, path in ../shared/data, reader). EWT dev/test and the WSD evaluation sets are probe test data: never here.
SHIPPED_SOURCES = [
    *[(f"gutenberg/{p.stem}", f"gutenberg_nltk_sentences/{p.stem}.txt", gutenberg_lines)
      for p in (Path(e.mirror_path) for k, e in NAMED.items() if k.startswith("gutenberg/"))],
    ("wikitext2/valid", "wikitext2_v1/valid.txt", wikitext_lines),
    ("semcor", "semcor30_wn30/semcor.data.xml", semcor_lines),
    ("ewt/train", "ud_english_ewt/en_ewt-ud-train.conllu", ewt_text_lines),
]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_shipped_corpus(data_dir: str | Path, out: str | Path, valid_every: int = VALID_EVERY,
                         force: bool = False) -> dict:
    """Assemble the shipped models' training corpus from ../shared/data into ``out`` and return its manifest."""
    data_dir, out = Path(data_dir).expanduser(), Path(out).expanduser()
    if (out / "manifest.json").exists() and not force:
        raise ExplorerError(f"{out} already holds a built corpus: choose another folder, or pass --force to rebuild it")
    lines, sources = [], []
    for label, rel, reader in SHIPPED_SOURCES:
        path = data_dir / rel
        if not path.exists():
            raise ExplorerError(f"{path} is missing: give --data the folder holding the shared datasets (../shared/data)")
        source_lines = reader(path)
        lines += source_lines
        entry = _file_entry(path, source_lines, label) | dict(file=rel)
        if reader is wikitext_lines:
            entry["unk_dropped"] = sum(line.split().count(UNK) for line in read_lines(path)[0])
        sources.append(entry)
    train, valid = split_validation(lines, valid_every)
    try:
        out.mkdir(parents=True, exist_ok=True)
        manifest = dict(sources=sources, valid_every=valid_every,
                        excluded="EWT dev/test and the WSD evaluation sets (probe test data)")
        for split, split_lines in (("train", train), ("valid", valid)):
            _write_atomic(out / f"{split}.txt", "\n".join(split_lines) + "\n")
            manifest[split] = dict(file=f"{split}.txt", sha256=file_sha256(out / f"{split}.txt"),
                                   lines=len(split_lines), tokens=n_tokens(split_lines))
        _write_atomic(out / "manifest.json", json.dumps(manifest, indent=2))
    except OSError as e:
        raise ExplorerError(f"cannot write the corpus to {out} ({e.strerror}): choose a writable folder") from None
    return manifest
