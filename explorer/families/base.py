"""What every family shares: input checking, word spans, batching and progress, and the Model interface."""
import hashlib
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..distributed import pick_device
from ..errors import ExplorerError
from ..text import join_words, split_words
from ..trace import Trace


@dataclass
class Item:
    """One input: a text (or a pair of texts) with the character span of every word."""

    text: str
    spans: list[tuple[str, int, int]]
    pair: str | None = None
    pair_spans: list[tuple[str, int, int]] | None = None

    @property
    def words(self) -> list[str]:
        return [w for w, _, _ in self.spans + (self.pair_spans or [])]


def make_item(text=None, pair=None, words=None) -> Item:
    """An Item from free text (split into words here), gold words, or a sentence pair."""
    if words is not None:
        if text is not None:
            raise ExplorerError("give either text or words, not both")
        text, spans = join_words(list(words))
    elif text is None:
        raise ExplorerError("nothing to trace: give a text or a list of words")
    else:
        spans = split_words(text)
    if pair is None:
        return Item(text, spans)
    return Item(text, spans, pair, split_words(pair) if isinstance(pair, str) else join_words(list(pair))[1])


def make_items(inputs) -> list[Item]:
    """Items from texts, word lists, or (text, pair) tuples."""
    return [make_item(words=x) if isinstance(x, list) else make_item(*x) if isinstance(x, tuple) else make_item(x)
            for x in inputs]


@dataclass
class NetworkInputs:
    """A batch as the model's network reads it, and where each input's trace tokens sit in it."""

    inputs: dict  # the network's keyword arguments (tensors [B, T, ...]): pass them back to Model.hidden_states
    mask: torch.Tensor  # [B, T]: real positions (not padding)
    positions: list[list[int]]  # per input, the position of each token its trace keeps ([CLS] yes, ELMo's <S> no)
    word_ids: list[list[int | None]]  # per input, each of those tokens' word (None: a special token)
    truncated: list[bool]  # per input: cut to the model's context


class Model:
    """A traceable model of one family (``spec``: what its family is and can do). Subclasses implement ``_run``
    and the size properties, and to be trained through (transfer), ``_network_inputs``, ``hidden_states`` and
    ``_fresh_network``."""

    def __init__(self, net: torch.nn.Module, tokenizer, name: str, spec, card: dict | None = None):
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.spec = spec
        self.card = card or {}
        # Sessions share a loaded model: a switch of its device or attention holds this while the network runs
        self._lock = threading.RLock()

    def __getstate__(self):  # a copy (copy.deepcopy, a scratch twin) gets a lock of its own
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()

    @property
    def family(self) -> str:
        return self.spec.name

    @property
    def causal(self) -> bool:
        return self.spec.causal

    # -- sizes -------------------------------------------------------------
    n_layers: int
    n_heads: int
    d_model: int
    max_len: int

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def attention_kinds(self) -> list[str] | None:
        """Each block's kind of attention ("global", "local") where blocks differ (GPT-3-style models); else None."""
        return None

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @contextmanager
    def on(self, device: str | None = None):
        """The network on ``device`` (see pick_device) for the block, then back where it was; traces made inside
        hold tensors on that device. Other threads' traces wait while it is elsewhere."""
        target, home = pick_device(device), self.device
        if target == home:
            yield self
            return
        with self._lock:
            self.net.to(target)
            try:
                yield self
            finally:
                self.net.to(home)

    def fingerprint(self) -> str:
        """sha256 of the model's name and weights."""
        h = hashlib.sha256(self.name.encode())
        for name, tensor in sorted(self.net.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return h.hexdigest()

    def describe(self) -> dict:
        return dict(name=self.name, family=self.family, params=self.n_params, layers=self.n_layers,
                    heads=self.n_heads, d_model=self.d_model, context=self.max_len, vocab=self.vocab_size)

    # -- tracing -----------------------------------------------------------
    def trace(self, text=None, *, pair=None, words=None, attentions=True, logits=True) -> Trace:
        """Trace one text, sentence pair, or list of gold words."""
        return self._run([make_item(text, pair, words)], attentions=attentions, logits=logits)[0]

    def trace_batch(self, inputs, *, batch_size=16, attentions=False, logits=False, progress=False) -> list[Trace]:
        """Trace many inputs (texts, word lists, or (text, pair) tuples), padded in batches.

        Pad positions are cut away before anything is returned, so they never reach features.
        """
        items = make_items(inputs)
        out = []
        bar = tqdm(total=len(items), desc=f"tracing with {self.name}", disable=not progress, unit="input")
        for i in range(0, len(items), batch_size):
            out += self._run(items[i:i + batch_size], attentions=attentions, logits=logits)
            bar.update(min(batch_size, len(items) - i))
        bar.close()
        return out

    def token_counts(self, inputs) -> list[int]:
        """How many positions each input (as trace_batch takes them) fills in the network, within its context."""
        raise NotImplementedError

    @torch.no_grad()
    def _run(self, items: list[Item], attentions: bool, logits: bool) -> list[Trace]:
        """Traces of ``items``; with neither attentions nor logits asked, families may skip what only those need."""
        raise NotImplementedError

    # -- training through the model: fine-tuning, scratch twins and control models ---------------------
    def network_inputs(self, inputs) -> NetworkInputs:
        """``inputs`` (as trace_batch takes them) encoded for the network, padded into one batch."""
        return self._network_inputs(make_items(inputs))

    def _network_inputs(self, items: list[Item]) -> NetworkInputs:
        raise NotImplementedError

    def hidden_states(self, inputs: dict, lm_labels: torch.Tensor | None = None):
        """Every layer's hidden states [n_layers + 1, B, T, d] for ``NetworkInputs.inputs``, with gradients where
        enabled, and the language-modelling loss for ``lm_labels`` (causal families: [B, T] token ids, which the
        loss shifts by one, -100 where there is no target), else None."""
        raise NotImplementedError

    def add_special_tokens(self, tokens: list[str]) -> None:
        """New special tokens in the tokenizer, each with a fresh embedding row to learn."""
        raise ExplorerError(f"{self.name} ({self.spec.display}) takes no new tokens: its input is not a vocabulary "
                            "of embeddings")

    def untrained_copy(self, name: str, *, tokenizer=None, card: dict | None = None) -> "Model":
        """The same architecture with fresh float32 weights, initialised as the family initialises a model before
        training (from torch's random state); ``tokenizer``: the copy's own (default: this model's, shared)."""
        return type(self)(self._fresh_network(), self.tokenizer if tokenizer is None else tokenizer, name, self.spec,
                          card)

    def _fresh_network(self) -> torch.nn.Module:
        raise NotImplementedError

    def torch_module(self) -> torch.nn.Module:
        """The torch module holding every weight, to register inside a larger module (its parameters, train() and
        eval() then reach them); run it through the Model's methods."""
        return self.net

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        raise NotImplementedError
