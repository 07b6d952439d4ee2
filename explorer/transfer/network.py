"""A pretrained network with a task head: encoding, the differentiable forward, training and saving.

What a head reads depends on how the family was pretrained (``spec.objective``): BERT's [CLS] (or each word's
first sub-token), GPT's extract token after its input transformation (Radford et al. 2018, Fig. 1), and for
ELMo a learned scalar mix of all its layers (Peters et al. 2018, eq. 1) mean-pooled over the words.
"""
import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..errors import ExplorerError
from .data import Row

# GPT's input transformation: start, delimiter (between the texts of a pair) and extract tokens.
TASK_TOKENS = ("<|start|>", "<|delim|>", "<|extract|>")
# Fine-tuning's readout by pretraining objective: (scalar mix over layers?, sentence position).
READOUT = {"masked": (False, "first"), "causal": (False, "extract"), "bidirectional": (True, "mean")}
HEAD_FILE = "task_head.safetensors"


@dataclass
class TrainSettings:
    """One budget for fine-tuning and its from-scratch twin (GPT's: 3 epochs, batch 32, warm-up, aux LM 0.5)."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    warmup: float = 0.1  # share of the steps with a rising learning rate
    weight_decay: float = 0.01
    clip: float = 1.0
    lm_weight: float = 0.5  # GPT's auxiliary LM loss weight λ (0: off)
    hidden: int = 0  # > 0: a one-hidden-layer task model of this width instead of a linear one
    head_epochs: int = 30  # feature-based: passes of the task model over the cached frozen features
    head_lr: float = 1e-3
    progress: bool = False  # a step bar (with its ETA) while a network trains

    def check(self):
        for name in ("epochs", "batch_size", "head_epochs"):
            if getattr(self, name) < 1:
                raise ExplorerError(f"training setting {name} must be at least 1")
        if self.lr <= 0 or self.head_lr <= 0:
            raise ExplorerError("learning rates must be positive")
        return self


@dataclass
class Batch:
    inputs: dict  # the network's keyword inputs
    pool: torch.Tensor  # [rows, B * T]: each output row's average over token positions
    labels: list[str]  # one per output row (words lost to truncation have none)
    truncated: int  # inputs cut to the context
    lm_labels: torch.Tensor | None = None  # next-token targets for the auxiliary LM loss


class TaskHead(nn.Module):
    """The task model over [rows, L+1, d]: gamma * sum_j softmax(s)_j * h_j (standardised), or the top layer,
    then a linear layer or a one-hidden-layer MLP."""

    def __init__(self, n_layers: int, d: int, n_classes: int, mix: bool, hidden: int = 0):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_layers, d))
        self.register_buffer("std", torch.ones(n_layers, d))
        self.scalars = nn.Parameter(torch.zeros(n_layers)) if mix else None
        self.gamma = nn.Parameter(torch.ones(())) if mix else None
        self.out = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)) if hidden \
            else nn.Linear(d, n_classes)

    def forward(self, reps):
        if self.scalars is None:
            return self.out(reps[:, -1])
        z = (reps - self.mean) / self.std
        return self.out(self.gamma * torch.einsum("l,rld->rd", self.scalars.softmax(0), z))

    def mix_weights(self) -> list[float] | None:
        return None if self.scalars is None else self.scalars.detach().softmax(0).tolist()


class Classifier(nn.Module):
    """``model``'s network (trained or frozen) with a task head; ``pool``: "first", "extract" or "mean"."""

    def __init__(self, model, classes: list[str], level: str, mix: bool, pool: str, hidden: int = 0):
        super().__init__()
        self.model, self.classes, self.level, self.pool, self.mix = model, list(classes), level, pool, mix
        self.backbone = model.torch_module()  # its weights train with the head's
        layers, _, d = model.trace(words=["a"], attentions=False, logits=False).hidden.shape
        self.head = TaskHead(layers, d, len(classes), mix, hidden)

    @property
    def transformed(self) -> bool:
        return self.pool == "extract"

    def encode(self, rows: list[Row], lm: bool = False) -> Batch:
        return encode(self.model, rows, self.level, self.pool, lm)

    def reps(self, batch: Batch):
        """[rows, L+1, d] and the auxiliary LM loss (None unless asked for in the batch)."""
        hidden, lm_loss = self.model.hidden_states(batch.inputs, batch.lm_labels)
        return torch.einsum("rk,lkd->rld", batch.pool, hidden.flatten(1, 2)), lm_loss

    def label_ids(self, labels: list[str]) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.classes)}
        return torch.tensor([index[t] for t in labels], dtype=torch.long)

    @torch.no_grad()
    def accuracy(self, rows: list[Row], batch_size: int = 64) -> tuple[float, int, int]:
        """(accuracy, rows scored, inputs truncated); labels unseen in training count as wrong."""
        self.eval()
        correct = total = truncated = 0
        for batch_rows in by_length(rows, batch_size):
            batch = self.encode(batch_rows)
            pred = self.head(self.reps(batch)[0]).argmax(-1).tolist()
            correct += sum(self.classes[p] == t for p, t in zip(pred, batch.labels))
            total, truncated = total + len(batch.labels), truncated + batch.truncated
        return correct / max(total, 1), total, truncated


def classifier(model, classes, level, hidden: int = 0) -> Classifier:
    """A Classifier reading ``model`` the way fine-tuning reads its family (GPT: with its task tokens added)."""
    mix, pool = READOUT[model.spec.objective]
    if level == "token":
        pool = "first"
    if pool == "extract":
        add_task_tokens(model)
    return Classifier(model, classes, level, mix, pool, hidden)


def add_task_tokens(model) -> None:
    """GPT's start, delimiter and extract tokens: new special tokens, with embedding rows to learn."""
    model.add_special_tokens(list(TASK_TOKENS))


def fresh_twin(model, name: str):
    """The same architecture and a copy of the tokenizer (task tokens go to the copy), randomly initialised: the
    from-scratch denominator."""
    return model.untrained_copy(name, tokenizer=copy.deepcopy(model.tokenizer))


# -- encoding ----------------------------------------------------------------------------------------------

def row_lengths(rows: list[Row]) -> list[int]:
    """Each row's length in characters (sentences) or words (token tasks): what batches of similar length sort by."""
    return [len(r.text) + len(r.text_b or "") for r in rows]


def by_length(rows: list[Row], batch_size: int) -> list[list[Row]]:
    """The rows in batches of similar length, for passes whose order does not matter: little padding (SST-2's
    phrases run from 1 to 50 words, so batches in file order are mostly padding)."""
    order = sorted(range(len(rows)), key=row_lengths(rows).__getitem__)
    return [[rows[j] for j in order[i:i + batch_size]] for i in range(0, len(rows), batch_size)]


def encode(model, rows: list[Row], level: str, pool: str, lm: bool = False) -> Batch:
    """Rows as the network reads them, and which positions each output row averages: for a sentence its first
    token or all its tokens (as the model's trace keeps them), for a word its first sub-token."""
    if pool == "extract":
        return _encode_transformed(model, rows, lm)
    enc = model.network_inputs([list(r.text) if level == "token" else (r.text, r.text_b) for r in rows])
    groups, labels = [], []
    for b, (row, positions, word_ids) in enumerate(zip(rows, enc.positions, enc.word_ids)):
        if level == "sentence":
            groups.append([(b, t) for t in (positions[:1] if pool == "first" else positions)])
            labels.append(row.label)
            continue
        first = {}
        for t, w in zip(positions, word_ids):
            first.setdefault(w, t)
        for w, tag in enumerate(row.label):
            if w in first:  # a word cut off by the context has no token: it is left out
                groups.append([(b, first[w])])
                labels.append(tag)
    return Batch(enc.inputs, _pool(groups, enc.mask.shape), labels, sum(enc.truncated))


def _encode_transformed(model, rows: list[Row], lm: bool) -> Batch:
    """start text [delim text_b] extract, right-padded; the head reads the extract token."""
    tok = model.tokenizer
    start, delim, extract = tok.convert_tokens_to_ids(list(TASK_TOKENS))
    room, truncated, seqs = model.max_len - 2, 0, []
    for r in rows:
        body = tok(r.text, add_special_tokens=False, verbose=False)["input_ids"]
        if r.text_b is not None:
            body += [delim] + tok(r.text_b, add_special_tokens=False, verbose=False)["input_ids"]
        truncated += len(body) > room
        seqs.append([start] + body[:room] + [extract])
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for b, s in enumerate(seqs):
        ids[b, :len(s)], mask[b, :len(s)] = torch.tensor(s), 1
    groups = [[(b, len(s) - 1)] for b, s in enumerate(seqs)]
    lm_labels = ids.masked_fill(mask == 0, -100) if lm else None
    return Batch(dict(input_ids=ids, attention_mask=mask), _pool(groups, ids.shape), [r.label for r in rows],
                 truncated, lm_labels)


def _pool(groups: list[list[tuple[int, int]]], shape) -> torch.Tensor:
    """[rows, B * T] averaging weights: row i is the mean of its (batch, position) group."""
    width = shape[1]
    pool = torch.zeros(len(groups), shape[0] * width)
    for i, group in enumerate(groups):
        pool[i, [b * width + t for b, t in group]] = 1 / len(group)
    return pool


# -- training ----------------------------------------------------------------------------------------------

def fit(clf: Classifier, rows: list[Row], settings: TrainSettings, seed: int) -> dict:
    """Every parameter trained with AdamW and a linear warm-up/decay; returns the budget spent."""
    torch.manual_seed(seed)
    params = [p for p in clf.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    per_epoch = math.ceil(len(rows) / settings.batch_size)
    total = settings.epochs * per_epoch
    sched = get_linear_schedule_with_warmup(opt, int(settings.warmup * total), total)
    lm = clf.transformed and settings.lm_weight > 0
    gen = torch.Generator().manual_seed(seed)
    clf.train()
    step = truncated = 0
    bar = tqdm(total=total, desc=f"training {clf.model.name}", unit="step", leave=False, disable=not settings.progress)
    # batches of similar length (shuffled in groups of 50 batches, as transformers' Trainer does): less padding
    lengths = row_lengths(rows)
    for epoch in range(settings.epochs):
        order = list(LengthGroupedSampler(settings.batch_size, lengths=lengths, generator=gen))
        for i in range(0, len(rows), settings.batch_size):
            batch = clf.encode([rows[j] for j in order[i:i + settings.batch_size]], lm=lm)
            truncated += batch.truncated if epoch == 0 else 0
            reps, lm_loss = clf.reps(batch)
            loss = nn.functional.cross_entropy(clf.head(reps), clf.label_ids(batch.labels))
            if lm_loss is not None:
                loss = loss + settings.lm_weight * lm_loss
            step += 1
            check_loss(loss, step, settings.lr)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, settings.clip)
            opt.step()
            sched.step()
            bar.update()
    bar.close()
    clf.eval()
    return dict(epochs=settings.epochs, steps=step, lr=settings.lr, batch_size=settings.batch_size,
                lm_weight=settings.lm_weight if lm else 0.0, truncated=truncated)


def check_loss(loss, step: int, lr: float) -> None:
    if not torch.isfinite(loss):
        raise ExplorerError(f"the training loss became {loss.item()} at step {step} (lr {lr:g}): training stopped "
                            "and nothing was saved; lower the learning rate")


# -- checkpoints -------------------------------------------------------------------------------------------

def save_classifier(clf: Classifier, directory: str | Path, card: dict) -> Path:
    """The network through Model.save (a model explorer.load reads), the head beside it, and a card saying
    how to rebuild the classifier."""
    directory = Path(directory)
    card = dict(card, transfer=dict(classes=clf.classes, level=clf.level, pool=clf.pool, mix=clf.mix,
                                    hidden=_hidden_width(clf.head), **card.get("transfer", {})))
    clf.model.save(directory, card)
    save_file({k: v.contiguous() for k, v in clf.head.state_dict().items()}, str(directory / HEAD_FILE))
    return directory


def update_card(directory: str | Path, **fields) -> None:
    path = Path(directory) / "card.json"
    card = json.loads(path.read_text())
    card["transfer"].update(fields)
    path.write_text(json.dumps(card, indent=2))


def load_classifier(directory: str | Path) -> Classifier:
    """A fine-tuned checkpoint written by save_classifier, ready to score."""
    from ..zoo import load

    model = load(directory)
    t = model.card.get("transfer")
    if not t or not (Path(directory) / HEAD_FILE).exists():
        raise ExplorerError(f"{directory} is a model but not a fine-tuned classifier (no task head in its card)")
    clf = Classifier(model, t["classes"], t["level"], t["mix"], t["pool"], t["hidden"])
    clf.head.load_state_dict(load_file(str(Path(directory) / HEAD_FILE)))
    return clf.eval()


def _hidden_width(head: TaskHead) -> int:
    return head.out[0].out_features if isinstance(head.out, nn.Sequential) else 0
