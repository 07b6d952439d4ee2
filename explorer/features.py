"""Word vectors at every layer for a whole dataset, through Trace, cached on disk.

A dataset of S sentences becomes one float16 .npy array [n_layers + 1, rows, d] on disk (open it
memory-mapped as ``Features.vectors``), where the rows are the sentences' selected words in order
(all words for POS, the target words for WSD). Sentences are traced in batches of similar token
counts, each batch's rows gathered at once and written straight to the file, and probes read it a
layer at a time, so memory stays bounded whatever the dataset's size. The cache is keyed by the
model (its name and a hash of its weights), the dataset (sha256 of the words and the selection)
and the pooling; a second sweep over the same data opens the array instead of running the model
again. Under torchrun each process traces every world-th batch into the one array (the batches, and so the
bytes, are those of one process), and the first process completes the cache once all shards are done.
"""
import hashlib
import json
import os
import shutil
import tempfile
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .distributed import join_job, pick_device
from .errors import ExplorerError
from .families.base import Model
from .paths import CACHE, safe_name

CACHE_DIR = Path(os.environ.get("LT_FEATURE_CACHE", CACHE / "features"))
FORMAT_VERSION = 1  # bump when the stored layout changes, so old caches are not misread
POOLS = ("first", "mean")


class EmptyWordWarning(UserWarning):
    """A word the model's tokenizer turns into no tokens (e.g. a lone soft hyphen): it gets no vector."""


_fingerprints: "weakref.WeakKeyDictionary[Model, str]" = weakref.WeakKeyDictionary()


@dataclass
class Features:
    """Cached word vectors: ``vectors[layer, row]``; rows offsets[i]:offsets[i+1] belong to sentence i."""

    directory: Path
    vectors: np.memmap  # float16 [n_layers + 1, rows, d]
    offsets: np.ndarray  # int64 [n_sentences + 1]
    missing: np.ndarray  # bool [rows]: words cut off by the model's context (their rows are zeros)
    meta: dict

    @property
    def n_layers(self) -> int:
        """Number of stored layers (the model's layers plus the input layer)."""
        return self.vectors.shape[0]

    @property
    def dim(self) -> int:
        return self.vectors.shape[2]

    def __len__(self) -> int:
        return self.vectors.shape[1]

    def layer(self, layer: int, rows=None) -> torch.Tensor:
        """float32 [rows, d] for one layer (all rows, or the given row indices)."""
        block = self._read(layer)
        return torch.from_numpy((block if rows is None else block[np.asarray(rows)]).astype(np.float32))

    def all_layers(self, rows) -> torch.Tensor:
        """float16 [n_layers + 1, len(rows), d]: every layer for the given rows (for the scalar mix)."""
        rows = np.asarray(rows)
        return torch.from_numpy(np.stack([self._read(layer)[rows] for layer in range(self.n_layers)]))

    def _read(self, layer: int) -> np.ndarray:
        """One layer read from the file, not through the memory map: pages a map touches count as the
        process's memory until the map closes, so sweeping every layer would hold the whole file."""
        count = len(self) * self.dim
        return np.fromfile(self.directory / "vectors.npy", dtype=np.float16, count=count,
                           offset=self.vectors.offset + layer * count * 2).reshape(len(self), self.dim)


def model_fingerprint(model: Model) -> str:
    """sha256 of the model's name and weights (computed once per loaded model)."""
    if model not in _fingerprints:
        _fingerprints[model] = model.fingerprint()
    return _fingerprints[model]


def dataset_fingerprint(sentences: list[list[str]], select: list[list[int]] | None) -> str:
    h = hashlib.sha256()
    for i, words in enumerate(sentences):
        h.update(json.dumps([words, None if select is None else select[i]], ensure_ascii=False).encode())
    return h.hexdigest()


def extract_features(model: Model, sentences: list[list[str]], *, pool: str = "first",
                     select: list[list[int]] | None = None, cache_dir: str | Path | None = None,
                     max_tokens: int = 4096, batch_size: int | None = None, device: str | None = None,
                     progress: bool = False) -> Features:
    """Vectors of every layer for the selected words (default: all) of each sentence, cached.

    ``select[i]`` lists the word indices of sentence i to keep, in the order their rows are stored.
    Sentences are traced in batches of similar token counts, each of at most ``max_tokens`` padded positions
    (and ``batch_size`` sentences, where given), on ``device`` ("cpu", "cuda", "mps"; None: the best available).
    Under torchrun (WORLD_SIZE > 1, or a process group already started) every rank calls this with the same
    arguments and traces its share of the batches (on its own GPU where ``device`` names none); a job that dies
    leaves the cache incomplete, and the same job run again, or one process, finishes the shards not done.
    """
    if pool not in POOLS:
        raise ExplorerError(f"unknown pooling {pool!r}: use one of {', '.join(POOLS)}")
    if not sentences:
        raise ExplorerError("no sentences to extract features from")
    if select is not None and len(select) != len(sentences):
        raise ExplorerError(f"select has {len(select)} entries for {len(sentences)} sentences")
    job = join_job(pick_device(device))  # refused here, before any work, if this machine lacks it
    key = dict(format=FORMAT_VERSION, model=model.name, model_sha256=model_fingerprint(model),
               dataset_sha256=dataset_fingerprint(sentences, select), pool=pool)
    directory = Path(cache_dir or CACHE_DIR) / safe_name(model.name) / (
        f"{key['model_sha256'][:12]}-{key['dataset_sha256'][:16]}-{pool}")
    if not (directory / "meta.json").exists():
        with model.on(job.device):
            _build(model, sentences, select, key, directory, max_tokens, batch_size, progress, job)
    return open_features(directory)


def open_features(directory: str | Path) -> Features:
    directory = Path(directory)
    meta = json.loads((directory / "meta.json").read_text())
    return Features(directory, np.load(directory / "vectors.npy", mmap_mode="r"),
                    np.load(directory / "offsets.npy"), np.load(directory / "missing.npy"), meta)


def _build(model, sentences, select, key, directory, max_tokens, batch_size, progress, job):
    chosen = [list(range(len(w))) if select is None else list(select[i]) for i, w in enumerate(sentences)]
    for i, (words, idx) in enumerate(zip(sentences, chosen)):
        if not words:
            raise ExplorerError(f"sentence {i} has no words")
        bad = [j for j in idx if not 0 <= j < len(words)]
        if bad:
            raise ExplorerError(f"sentence {i} has {len(words)} words; selected word {bad[0]} does not exist")
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(idx) for idx in chosen])
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp, shards = _partial(directory, job)
    try:
        first = model.trace(words=sentences[0], attentions=False, logits=False)  # for the layer count and width
        shape = (first.hidden.shape[0], int(offsets[-1]), first.hidden.shape[-1])
        if job.main:
            _prepare(tmp, shape, shards)
        job.barrier()  # the array exists before any rank writes to it
        lengths = model.token_counts([list(words) for words in sentences])
        batches = list(_batches(lengths, max_tokens, batch_size))  # the same batches whatever the number of shards
        todo = [s for s in ([job.rank] if job.world > 1 else range(shards)) if not _shard(tmp, s, shards).exists()]
        bar = tqdm(total=sum(len(b) for s in todo for b in batches[s::shards]), desc=f"features from {model.name}",
                   unit="sentence", disable=not (progress and job.main))
        try:
            for s in todo:
                _trace_shard(model, sentences, chosen, offsets, key["pool"], batches[s::shards], tmp,
                             _shard(tmp, s, shards), bar)
        finally:
            bar.close()
        job.barrier()  # every shard written
        if job.main:
            _finish(tmp, directory, key, offsets, shape, shards, model.family)
        job.barrier()  # meta.json in place before any rank opens the features
    finally:
        if shards == 1:  # one process's own folder; a torchrun job's stays for a rerun to finish
            shutil.rmtree(tmp, ignore_errors=True)


def _partial(directory: Path, job) -> tuple[Path, int]:
    """The folder the cache is built in, and into how many shards its batches are split. A torchrun job's ranks
    share one folder named after the cache; one process builds in a fresh one (concurrent builds of the same
    features never collide), unless a torchrun job left this cache's folder with shards done: it finishes those
    shards, so an interrupted job can be completed without torchrun."""
    shared = directory.parent / f".partial-{directory.name}"
    if job.world > 1:
        return shared, job.world
    left = {int(p.stem.rpartition("-of-")[2]) for p in shared.glob("shard-*-of-*.npy")}
    if len(left) == 1:
        return shared, left.pop()
    return Path(tempfile.mkdtemp(dir=directory.parent, prefix=".partial-")), 1


def _shard(tmp: Path, shard: int, shards: int) -> Path:
    """Where a finished shard keeps its missing rows; its presence marks the shard done."""
    return tmp / f"shard-{shard}-of-{shards}.npy"


def _prepare(tmp: Path, shape: tuple, shards: int) -> None:
    """The zeroed array to fill, unless ``tmp`` holds one with shards of this split done (a rerun goes on with
    it); a build split into another number of shards is not mixed in but started afresh."""
    done = list(tmp.glob("shard-*.npy"))
    if done and all(p.name.endswith(f"-of-{shards}.npy") for p in done) and (tmp / "vectors.npy").exists():
        return
    for path in tmp.glob("shard-*"):
        path.unlink()
    tmp.mkdir(exist_ok=True)
    np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=np.float16, shape=shape)


def _trace_shard(model, sentences, chosen, offsets, pool, batches, tmp, done, bar) -> None:
    """Traces the shard's batches into the array, then marks the shard done with its missing rows."""
    missing = np.zeros(int(offsets[-1]), dtype=bool)
    for batch in batches:
        traces = model.trace_batch([list(sentences[i]) for i in batch], batch_size=len(batch))
        rows, vectors = _gather(traces, [sentences[i] for i in batch], batch, [chosen[i] for i in batch],
                                offsets, pool, missing)
        # Mapped for one batch only: pages a map touches count as the process's memory until it closes
        stored = np.load(tmp / "vectors.npy", mmap_mode="r+")
        stored[:, rows] = vectors
        del stored
        bar.update(len(batch))
    written = done.with_suffix(".tmp")
    with open(written, "wb") as f:
        np.save(f, missing)
    os.replace(written, done)  # all at once: a shard killed while saving is not taken for done


def _finish(tmp, directory, key, offsets, shape, shards, family) -> None:
    """The shards' missing rows merged, offsets and meta.json written (its presence: the cache is complete) and
    the folder moved into place."""
    done = [_shard(tmp, s, shards) for s in range(shards)]
    lost = [s for s, path in enumerate(done) if not path.exists()]
    if lost:
        raise ExplorerError(f"feature shard(s) {lost} of {shards} did not finish, so {tmp} is incomplete: "
                            "run the same command again to complete it")
    missing = np.any([np.load(path) for path in done], axis=0)
    np.save(tmp / "offsets.npy", offsets)
    np.save(tmp / "missing.npy", missing)
    for path in done:
        path.unlink()
    meta = key | dict(layers=shape[0], rows=shape[1], dim=shape[2], sentences=len(offsets) - 1,
                      missing=int(missing.sum()), family=family)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        tmp.rename(directory)
    except OSError:  # another run finished the same features first
        if not (directory / "meta.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _batches(lengths: list[int], max_tokens: int, batch_size: int | None):
    """Sentence indices by token count, in batches whose padded size (sentences x the longest) stays within
    ``max_tokens`` (a longer sentence goes alone): similar lengths waste little on padding."""
    batch = []
    for i in np.argsort(lengths, kind="stable").tolist():
        if batch and ((len(batch) + 1) * lengths[i] > max_tokens or len(batch) == batch_size):
            yield batch
            batch = []
        batch.append(i)
    yield batch


def _gather(traces, words, numbers, chosen, offsets, pool, missing) -> tuple[np.ndarray, np.ndarray]:
    """The batch's selected words: their rows in the file and float16 vectors [n_layers, rows, d], pooled over
    all sentences at once. A word the model never saw (cut off by its context, or mapped to no token at all)
    keeps its zero row, marked missing; probes leave such rows out."""
    token_word, row_word, rows, base = [], [], [], 0  # traced words numbered across the batch from ``base``
    for trace, ws, sentence, idx in zip(traces, words, numbers, chosen):
        position = _positions(ws, trace.words)
        empty = [w for j, w in enumerate(ws) if position[j] is None and j < _last_seen(position)]
        if empty:
            warnings.warn(f"{trace.model}'s tokenizer maps {empty} (sentence {sentence}) to no tokens: "
                          "left out of the probe", EmptyWordWarning)
        token_word.append(base + np.array(trace.word_ids, dtype=float))  # None -> nan
        row_word.append(base + np.array([position[j] for j in idx], dtype=float))
        rows.append(offsets[sentence] + np.arange(len(idx)))
        base += len(trace.words)
    token_word, row_word, rows = (np.concatenate(a) for a in (token_word, row_word, rows))
    hidden = torch.cat([trace.hidden for trace in traces], dim=1)  # [n_layers, tokens, d]
    tokens = np.flatnonzero(~np.isnan(token_word))
    owner = token_word[tokens].astype(np.int64)

    def on_device(index: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(index).to(hidden.device)

    if pool == "first":  # tokens come in order, so a word's first token is where its number first appears
        per_word = hidden[:, on_device(tokens[np.unique(owner, return_index=True)[1]])]
    else:
        per_word = hidden.new_zeros(hidden.shape[0], base, hidden.shape[2])
        per_word.index_add_(1, on_device(owner), hidden[:, on_device(tokens)])
        per_word /= on_device(np.bincount(owner, minlength=base))[:, None]
    keep = ~np.isnan(row_word)
    missing[rows[~keep]] = True
    vectors = per_word[:, on_device(row_word[keep].astype(np.int64))]
    return rows[keep], vectors.to("cpu", torch.float16).numpy()


def _positions(words: list[str], traced: list[str]) -> list[int | None]:
    """Each input word's index among the traced words (which keep order but may lack some)."""
    out, t = [], 0
    for w in words:
        if t < len(traced) and traced[t] == w:
            out.append(t)
            t += 1
        else:
            out.append(None)
    return out


def _last_seen(position: list[int | None]) -> int:
    return max((j for j, p in enumerate(position) if p is not None), default=-1)
