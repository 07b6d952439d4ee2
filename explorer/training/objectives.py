"""The three pretraining objectives: biLM (ELMo), causal LM (GPT, GPT-2, GPT-3) and MLM + NSP (BERT).

An objective turns corpus lines into training sequences and a model's outputs into a loss. Sequence
``g`` of the run (counting from 0 over the whole run) is a pure function of the seed and ``g``, so
training can stop anywhere and resume exactly, and data-parallel ranks can take slices of one global
batch that is the same whatever the number of processes.

Every loss is a *sum* over the targets of the slice divided by the number of targets in the whole
global batch (``norm``), so the gradients that data-parallel ranks add up equal one process's.
"""
import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.icl import mapping_document
from ..errors import ExplorerError
from ..text import split_words

ELMO_WINDOW = 64  # words per ELMo training window (sentences are packed, like the 1B Word Benchmark's windows)
MASK_SHARE, MASK_TOKEN, RANDOM_TOKEN = 0.15, 0.8, 0.1  # BERT: 15 % of positions; 80 % [MASK], 10 % random, 10 % kept
SHORT_STEPS = 0.9  # BERT: 90 % of the steps at a short sequence length, then the full one (Devlin et al. 2019, A.2)


def _permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class _Epochs:
    """Item k of an endless stream over ``n`` items: a fresh seeded shuffle every epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self._epoch, self._perm = n, seed, -1, None

    def __getitem__(self, k: int) -> int:
        epoch, i = divmod(k, self.n)
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, _permutation(self.n, self.seed, epoch)
        return int(self._perm[i])


def _blocks(stream: list[int], length: int) -> torch.Tensor:
    """Non-overlapping windows of ``length + 1`` ids (inputs and their next-token targets), stride ``length``."""
    if len(stream) < length + 1:
        return torch.empty(0, length + 1, dtype=torch.long)
    return torch.tensor(stream, dtype=torch.long).unfold(0, length + 1, length)


def _sum_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100, reduction="sum")


@dataclass
class Batch:
    """A global batch: tensors with one row per sequence, and the normalisers of its losses."""

    tensors: dict
    norm: dict

    def rows(self, start: int, stop: int) -> dict:
        return {k: v[start:stop] for k, v in self.tensors.items()}

    @property
    def size(self) -> int:
        return len(next(iter(self.tensors.values())))


class Objective:
    """Training sequences from text, and the module that scores them (the one data-parallel wraps)."""

    name = ""
    seq_len: int

    def batch(self, start: int, count: int) -> Batch:
        raise NotImplementedError

    def eval_batches(self, split: str, max_sequences: int | None, batch_size: int) -> list[Batch]:
        raise NotImplementedError

    def module(self, net: torch.nn.Module) -> torch.nn.Module:
        raise NotImplementedError

    def summarise(self, sums: dict) -> dict:
        """Loss, perplexity and accuracies from summed statistics."""
        raise NotImplementedError

    def tokens(self, batch: Batch) -> int:
        return batch.size * self.seq_len

    def plan(self, steps: int, batch_size: int) -> None:
        """Told the run's length before it starts (objectives whose sequences change during the run)."""


# -- causal LM ---------------------------------------------------------------------------------------

class _CausalModule(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, norm, input_ids, targets):
        logits = self.net(input_ids=input_ids).logits
        total = _sum_ce(logits, targets)
        return total / norm["lm"], dict(lm=(total.detach(), (targets != -100).sum()))


class CausalLM(Objective):
    """Next-token prediction over lines joined by EOS and packed into blocks of the context length.

    A share of the sequences (``icl_share``) are key -> value mapping documents (Chan et al. 2022):
    bursty sequences from which in-context learning emerges.
    """

    name = "causal LM"

    def __init__(self, tokenizer, lines: list[str], valid: list[str], context: int, seed: int, icl_share: float):
        self.tokenizer, self.seq_len, self.seed, self.icl_share = tokenizer, context, seed, icl_share
        self.eos = tokenizer.eos_token_id
        self.train_stream, self.valid_stream = self._stream(lines), self._stream(valid)
        self.train_blocks, self.valid_blocks = _blocks(self.train_stream, context), _blocks(self.valid_stream, context)
        if not len(self.valid_blocks):  # else validation has nothing to score (it failed with KeyError: 'lm')
            raise ExplorerError(f"the corpus's validation lines hold {len(self.valid_stream)} tokens, fewer than one "
                                f"training sequence ({context + 1}): give a longer text, one sentence a line")
        self.order = _Epochs(max(1, len(self.train_blocks)), seed)

    def _stream(self, lines):
        stream = []
        for ids in self.tokenizer(lines, add_special_tokens=False, verbose=False)["input_ids"]:
            stream += ids + [self.eos]
        return stream

    def is_icl(self, g: int) -> bool:
        """Exactly ``icl_share`` of sequences, evenly spread: sequence g is a mapping document when floor(g*s) steps."""
        return math.floor((g + 1) * self.icl_share) > math.floor(g * self.icl_share)

    def _icl_block(self, g: int) -> torch.Tensor:
        rng = random.Random(f"icl:{self.seed}:{g}")
        ids = []
        while len(ids) < self.seq_len + 1:
            ids += self.tokenizer(mapping_document(rng), add_special_tokens=False, verbose=False)["input_ids"] + [self.eos]
        return torch.tensor(ids[: self.seq_len + 1])

    def sequence(self, g: int) -> torch.Tensor:
        if self.icl_share and self.is_icl(g):
            return self._icl_block(g)
        return self.train_blocks[self.order[g - math.floor(g * self.icl_share)]]

    def batch(self, start, count):
        rows = torch.stack([self.sequence(g) for g in range(start, start + count)])
        return self._batch(rows)

    def _batch(self, rows):
        return Batch(dict(input_ids=rows[:, :-1], targets=rows[:, 1:]), dict(lm=rows[:, 1:].numel()))

    def eval_batches(self, split, max_sequences, batch_size):
        blocks = self.valid_blocks if split == "valid" else self.train_blocks[_permutation(len(self.train_blocks), self.seed, -1)]
        blocks = blocks[:max_sequences]
        return [self._batch(blocks[i:i + batch_size]) for i in range(0, len(blocks), batch_size)]

    def module(self, net):
        return _CausalModule(net)

    def summarise(self, sums):
        loss = sums["lm"][0] / max(1, sums["lm"][1])
        return dict(loss=loss, ppl=math.exp(min(loss, 50)))


# -- MLM + NSP (BERT) ---------------------------------------------------------------------------------

class _BertModule(torch.nn.Module):
    """BertForPreTraining scored only where it is asked: the MLM head runs on the masked positions alone."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, norm, input_ids, token_type_ids, attention_mask, labels, next_sentence_label):
        sequence, pooled = self.net.bert(input_ids=input_ids, token_type_ids=token_type_ids,
                                         attention_mask=attention_mask, return_dict=False)[:2]
        masked = labels != -100
        mlm_logits = self.net.cls.predictions(sequence[masked])
        nsp_logits = self.net.cls.seq_relationship(pooled)
        mlm = _sum_ce(mlm_logits, labels[masked])
        nsp = _sum_ce(nsp_logits, next_sentence_label)
        loss = mlm / norm["mlm"] + nsp / norm["nsp"]
        return loss, dict(mlm=(mlm.detach(), masked.sum()), nsp=(nsp.detach(), torch.tensor(len(input_ids))),
                          mlm_correct=((mlm_logits.argmax(-1) == labels[masked]).sum(), masked.sum()),
                          nsp_correct=((nsp_logits.argmax(-1) == next_sentence_label).sum(), torch.tensor(len(input_ids))))


class MaskedLM(Objective):
    """BERT's pretraining: sentence pairs from consecutive lines (50 % IsNext, 50 % a random line), 15 % masked.

    With ``short_seq``, the first 90 % of the steps use pairs of that many tokens, as BERT did (128 of 512).
    A tiny BERT needs it: with long sequences alone its attention never learns to use positions and it
    stays a bag of words (bench/results/training_runs.md); short ones give neighbours a large share.
    """

    name = "MLM + NSP"

    def __init__(self, tokenizer, lines: list[str], valid: list[str], context: int, seed: int, short_seq: int = 0):
        self.tokenizer, self.seq_len, self.seed = tokenizer, context, seed
        self.short_seq, self.short_until = short_seq, 0  # short_until: the first sequence of the full length
        self.train_ids = self._ids(lines)
        self.valid_ids = self._ids(valid)
        specials = set(tokenizer.all_special_ids)
        self.special = specials
        self.normal_ids = [i for i in range(len(tokenizer)) if i not in specials]
        self.cls, self.sep, self.pad, self.mask = (tokenizer.cls_token_id, tokenizer.sep_token_id,
                                                   tokenizer.pad_token_id, tokenizer.mask_token_id)

    def _ids(self, lines):
        return [ids for ids in self.tokenizer(lines, add_special_tokens=False, verbose=False)["input_ids"] if ids]

    @property
    def mean_tokens(self) -> float:
        """Tokens per sequence over the run: what the token budget is divided by."""
        if not self.short_seq:
            return self.seq_len
        return SHORT_STEPS * self.short_seq + (1 - SHORT_STEPS) * self.seq_len

    def plan(self, steps, batch_size):
        if self.short_seq:
            self.short_until = round(SHORT_STEPS * steps) * batch_size

    def example(self, lines: list[list[int]], rng: random.Random, length: int) -> dict:
        """One pair [CLS] A [SEP] B [SEP], masked, packed to ``length`` (like BERT's create_pretraining_data)."""
        target = length - 3
        start = rng.randrange(len(lines))
        chunk, n = [], 0
        for ids in lines[start:]:
            chunk.append(ids)
            n += len(ids)
            if n >= target:
                break
        a_end = rng.randint(1, len(chunk) - 1) if len(chunk) > 1 else 1
        a = [t for ids in chunk[:a_end] for t in ids]
        after = start + a_end  # the line that truly follows A
        is_next = rng.random() < 0.5 and after < len(lines)
        if is_next:
            b_lines = chunk[a_end:] or [lines[after]]
        else:
            other = rng.randrange(len(lines) - 1)
            other += other >= after  # anything but the true next line
            b_lines = lines[other:other + len(chunk)]
        b = [t for ids in b_lines for t in ids][: max(1, target - len(a))]
        while len(a) + len(b) > target:  # trim the longer side, as BERT does
            (a if len(a) > len(b) else b).pop()
        ids = [self.cls] + a + [self.sep] + b + [self.sep]
        segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        ids, labels = self._mask(ids, rng)
        pad = length - len(ids)
        return dict(input_ids=ids + [self.pad] * pad, token_type_ids=segments + [0] * pad,
                    attention_mask=[1] * len(ids) + [0] * pad, labels=labels + [-100] * pad,
                    next_sentence_label=0 if is_next else 1)

    def _mask(self, ids, rng):
        positions = [i for i, t in enumerate(ids) if t not in self.special]
        chosen = rng.sample(positions, max(1, round(MASK_SHARE * len(positions))))
        labels = [-100] * len(ids)
        ids = list(ids)
        for i in chosen:
            labels[i] = ids[i]
            roll = rng.random()
            if roll < MASK_TOKEN:
                ids[i] = self.mask
            elif roll < MASK_TOKEN + RANDOM_TOKEN:
                ids[i] = rng.choice(self.normal_ids)
        return ids, labels

    def _batch(self, examples):
        tensors = {k: torch.tensor([e[k] for e in examples]) for k in examples[0]}
        return Batch(tensors, dict(mlm=int((tensors["labels"] != -100).sum()), nsp=len(examples)))

    def batch(self, start, count):
        length = self.short_seq if start < self.short_until else self.seq_len
        return self._batch([self.example(self.train_ids, random.Random(f"bert:{self.seed}:{g}"), length)
                            for g in range(start, start + count)])

    def eval_batches(self, split, max_sequences, batch_size):
        lines = self.valid_ids if split == "valid" else self.train_ids
        n = max_sequences or max(1, sum(map(len, lines)) // self.seq_len)
        examples = [self.example(lines, random.Random(f"bert-eval:{split}:{g}"), self.seq_len) for g in range(n)]
        return [self._batch(examples[i:i + batch_size]) for i in range(0, n, batch_size)]

    def module(self, net):
        return _BertModule(net)

    def tokens(self, batch):
        return int(batch.tensors["attention_mask"].sum())

    def summarise(self, sums):
        mlm = sums["mlm"][0] / max(1, sums["mlm"][1])
        nsp = sums["nsp"][0] / max(1, sums["nsp"][1])
        return dict(loss=mlm, ppl=math.exp(min(mlm, 50)), nsp_loss=nsp,
                    mlm_accuracy=sums["mlm_correct"][0] / max(1, sums["mlm_correct"][1]),
                    nsp_accuracy=sums["nsp_correct"][0] / max(1, sums["nsp_correct"][1]))


# -- biLM (ELMo) -------------------------------------------------------------------------------------

class _BiLMModule(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, norm, chars, mask, forward_targets, backward_targets):
        out = self.net(chars, mask)
        fwd = _sum_ce(out["forward_logits"], forward_targets)
        bwd = _sum_ce(out["backward_logits"], backward_targets)
        loss = (fwd / norm["forward"] + bwd / norm["backward"]) / 2  # the two directions' losses, averaged
        return loss, dict(forward=(fwd.detach(), (forward_targets != -100).sum()),
                          backward=(bwd.detach(), (backward_targets != -100).sum()))


class BiLM(Objective):
    """ELMo's biLM: a forward LM predicting each next word and a backward LM predicting each previous word.

    Whole sentences are packed into windows of up to ELMO_WINDOW positions, "<S> s1 </S> <S> s2 </S>",
    so that little is padding; the boundary between two sentences is never a target (predicting the
    inner <S> after </S> is trivial), so every sentence contributes its words and one end marker.
    Each distinct word's characters (elmo.word_chars) and vocabulary id are computed once, so a batch
    is two table look-ups: exactly what elmo.char_ids and elmo.word_ids give, without a Python loop.
    """

    name = "biLM"
    PAD, BOS, EOS = 0, 1, 2  # rows of the word table

    def __init__(self, tokenizer, lines: list[str], valid: list[str], seed: int, max_chars: int):
        from ..families import elmo_network as elmo

        self.tokenizer, self.seed, self.seq_len = tokenizer, seed, ELMO_WINDOW
        self.words = {None: self.PAD, elmo.BOS: self.BOS, elmo.EOS: self.EOS}
        self.train_windows, self.valid_windows = self._windows(lines), self._windows(valid)
        words = list(self.words)
        self.chars = torch.tensor([[0] * max_chars] + [elmo.word_chars(w, max_chars) for w in words[1:]])
        self.ids = torch.tensor([tokenizer.pad_token_id] + tokenizer.convert_tokens_to_ids(words[1:]))
        self.bos_id, self.eos_id = int(self.ids[self.BOS]), int(self.ids[self.EOS])
        self.order = _Epochs(len(self.train_windows), seed)
        self.mean_tokens = sum(map(self._n_targets, self.train_windows)) / len(self.train_windows)

    def _index(self, word: str) -> int:
        return self.words.setdefault(word, len(self.words))

    def _windows(self, lines) -> list[torch.Tensor]:
        """Word-table indices of each window, outer <S> and </S> included."""
        room = self.seq_len - 2
        windows, current = [], []
        for line in lines:
            words = [self._index(w) for w, _, _ in split_words(line)]
            for i in range(0, len(words), room):
                piece = words[i:i + room]
                if current and len(current) + len(piece) + 2 > room:
                    windows.append(current)
                    current = []
                current += ([self.EOS, self.BOS] if current else []) + piece
        windows += [current] if current else []
        return [torch.tensor([self.BOS, *w, self.EOS]) for w in windows]

    def _n_targets(self, window: torch.Tensor) -> int:
        return len(window) - int((window == self.BOS).sum())  # words + one end marker per sentence

    def _batch(self, windows):
        index = torch.nn.utils.rnn.pad_sequence(windows, batch_first=True, padding_value=self.PAD)
        mask = index != self.PAD
        ids = self.ids[index].masked_fill(~mask, -100)
        forward = torch.full_like(ids, -100)
        forward[:, :-1] = ids[:, 1:]
        forward[forward == self.bos_id] = -100  # the inner <S> after </S>
        backward = torch.full_like(ids, -100)
        backward[:, 1:] = ids[:, :-1]
        backward[(backward == self.eos_id) | ~mask] = -100  # the inner </S> before <S>, and padding
        tensors = dict(chars=self.chars[index], mask=mask, forward_targets=forward, backward_targets=backward)
        return Batch(tensors, dict(forward=int((forward != -100).sum()), backward=int((backward != -100).sum())))

    def batch(self, start, count):
        return self._batch([self.train_windows[self.order[g]] for g in range(start, start + count)])

    def eval_batches(self, split, max_sequences, batch_size):
        windows = self.valid_windows if split == "valid" else [
            self.train_windows[i] for i in _permutation(len(self.train_windows), self.seed, -1)]
        windows = windows[:max_sequences]
        return [self._batch(windows[i:i + batch_size]) for i in range(0, len(windows), batch_size)]

    def module(self, net):
        return _BiLMModule(net)

    def tokens(self, batch):
        return batch.norm["forward"]

    def summarise(self, sums):
        fwd = sums["forward"][0] / max(1, sums["forward"][1])
        bwd = sums["backward"][0] / max(1, sums["backward"][1])
        loss = (fwd + bwd) / 2
        return dict(loss=loss, ppl=math.exp(min(loss, 50)), forward_loss=fwd, backward_loss=bwd,
                    forward_ppl=math.exp(min(fwd, 50)), backward_ppl=math.exp(min(bwd, 50)))
