"""Transformer families through HF transformers: tracing, saving, and loading real checkpoints."""
import copy
import inspect
import json
import warnings
from bisect import bisect_right
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ExplorerError, TruncationWarning
from ..trace import Trace
from .base import Item, Model, NetworkInputs, make_items

# The final norm a logit lens must apply to intermediate layers, by where transformers keeps it.
_FINAL_NORMS = ("transformer.ln_f", "model.norm", "gpt_neox.final_layer_norm", "model.decoder.final_layer_norm")


def _word_at(starts: list[int], ends: list[int], s: int, e: int) -> int | None:
    """The word a token with character span [s, e) belongs to (its first overlapping word)."""
    i = bisect_right(starts, s) - 1
    if i >= 0 and s < ends[i]:
        return i
    if i + 1 < len(starts) and starts[i + 1] < max(e, s + 1):
        return i + 1
    return None


def align(offsets, sequence_ids, special, item: Item) -> list[int | None]:
    """Token -> word index (words of a pair's second text come after the first's)."""
    spans = {0: item.spans, 1: item.pair_spans or []}
    bounds = {k: ([s for _, s, _ in v], [e for _, _, e in v]) for k, v in spans.items()}
    out = []
    for (s, e), seq, sp in zip(offsets, sequence_ids, special):
        w = None if sp or seq is None else _word_at(*bounds[seq], s, e)
        out.append(None if w is None else w + (len(item.spans) if seq == 1 else 0))
    return out


def from_config(net_class, config, tokenizer, name: str, spec) -> "HFModel":
    """A randomly initialised transformers model with eager attention, so attention maps exist."""
    return HFModel(net_class._from_config(config, attn_implementation="eager"), tokenizer, name, spec)


class HFModel(Model):
    """Every transformer family: a transformers module plus its fast tokenizer."""

    def __init__(self, net, tokenizer, name, spec, card=None):
        super().__init__(net, tokenizer, name, spec, card)
        _fuse_tanh_gelu(net)
        cfg = net.config
        self.n_layers, self.n_heads, self.d_model = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.hidden_size
        self.max_len = getattr(cfg, "max_position_embeddings", None) or cfg.n_positions
        # Traces without attention maps switch to sdpa where the network can switch per call (not GPT-1 or GPT-Neo)
        self._sdpa = getattr(net, "_supports_sdpa", False) and net._can_set_attn_implementation()
        tokenizer.padding_side = "right"
        if tokenizer.pad_token is None:  # GPT-2 and GPT ship without one; pads are cut away anyway
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token

    @staticmethod
    def _texts(items: list[Item]):
        texts = [it.text for it in items]
        pairs = [it.pair for it in items] if any(it.pair is not None for it in items) else None
        if pairs is not None and None in pairs:
            raise ExplorerError("a batch mixes single texts and pairs: trace them separately")
        return texts, pairs

    def _full_lengths(self, items: list[Item]) -> list[int]:
        """Each item's token count before truncation to the context."""
        return [len(ids) for ids in self.tokenizer(*self._texts(items), verbose=False)["input_ids"]]

    def token_counts(self, inputs) -> list[int]:
        return [min(n, self.max_len) for n in self._full_lengths(make_items(inputs))]

    def _encode(self, items: list[Item]):
        """The padded batch and which inputs lost tokens to the context (one tokenizer pass; counted again only
        when something was cut, for the warning)."""
        enc = self.tokenizer(*self._texts(items), truncation=True, max_length=self.max_len, padding=True,
                             return_tensors="pt")
        truncated = [bool(e.overflowing) for e in enc.encodings]
        if any(truncated):
            n = max(self._full_lengths(items))
            warnings.warn(f"input of {n} tokens cut to {self.name}'s context of {self.max_len}", TruncationWarning)
        return enc, truncated

    def _network_kwargs(self, enc) -> dict:
        """What the network reads of a tokenizer's encoding (segment ids only where the family reads pairs)."""
        keys = ("input_ids", "attention_mask") + (("token_type_ids",) if self.spec.pairs else ())
        return {k: enc[k] for k in keys if k in enc}

    @staticmethod
    def _word_ids(enc, b: int, n: int, item: Item) -> list[int | None]:
        """Input ``b``'s token -> word index over its ``n`` real tokens."""
        e = enc.encodings[b]
        return align(e.offsets[:n], e.sequence_ids[:n], e.special_tokens_mask[:n], item)

    @torch.no_grad()
    def _run(self, items, attentions, logits):
        enc, truncated = self._encode(items)
        inputs = {k: v.to(self.device) for k, v in self._network_kwargs(enc).items()}
        # Hidden states only: the base network, without the heads' vocabulary projection
        net = self.net if attentions or logits else self.net.base_model
        with self._attention("eager" if attentions else "sdpa"):
            out = net(**inputs, output_hidden_states=True, output_attentions=attentions)
        att = torch.stack(out.attentions) if attentions else None
        scores = getattr(out, "logits", None)
        if scores is None:
            scores = getattr(out, "prediction_logits", None)
        nsp = getattr(out, "seq_relationship_logits", None)
        traces = []
        for b, item in enumerate(items):
            n = int(enc["attention_mask"][b].sum())
            ids = enc["input_ids"][b, :n]
            words, word_ids = _keep_present(item.words, self._word_ids(enc, b, n, item))
            traces.append(Trace(
                model=self.name, family=self.family,
                tokens=enc.encodings[b].tokens[:n],
                words=words, word_ids=word_ids, input_ids=ids,
                hidden=torch.stack([h[b, :n] for h in out.hidden_states]),  # one copy, of this input's tokens
                attentions=att[:, b, :, :n, :n].clone() if att is not None else None,
                logits=scores[b, :n].clone() if logits and scores is not None else None,
                segment_ids=enc["token_type_ids"][b, :n].tolist() if "token_type_ids" in enc else None,
                nsp_logits=nsp[b].clone() if nsp is not None and item.pair is not None else None,
                truncated=truncated[b],
            ))
        return traces

    @contextmanager
    def _attention(self, implementation: str):
        """The network with ``implementation`` ("eager" or "sdpa") for the block where it can switch, else eager as
        loaded; eager again afterwards."""
        with self._lock:
            if self._sdpa:
                self.net.set_attn_implementation(implementation)
            try:
                yield
            finally:
                if self._sdpa:
                    self.net.set_attn_implementation("eager")

    # -- token ids in: the analyses' entry points (trace() reads texts) -----------------------------------
    def input_embedding(self) -> torch.nn.Module:
        """The token embedding table: the layer attribution explains the output through."""
        return self.net.get_input_embeddings()

    @property
    def attention_kinds(self) -> list[str] | None:
        return getattr(self.net.config, "attention_layers", None)

    @property
    def takes_cache(self) -> bool:
        """Whether the network reuses a prefix's keys and values (GPT-1's does not)."""
        return self._takes("cache")

    def _takes(self, argument: str) -> bool:
        return argument in inspect.signature(self.net.forward).parameters

    def scores(self, input_ids, *, attention_mask=None, segment_ids=None, prefix: "Prefix | None" = None,
               first: int = 0) -> torch.Tensor:
        """The pretraining head's scores [B, T - first, V] for token ids [B, T] after ``prefix`` (if any), from
        position ``first`` on (counted from the prefix's start; earlier positions are skipped where the network
        can). Gradients flow where enabled: attribution differentiates through it.

        ``segment_ids`` ([B, T] or [1, T]) reach only families that read sentence pairs.
        """
        extra = {}
        if segment_ids is not None and self.spec.pairs:
            extra["token_type_ids"] = segment_ids.expand(len(input_ids), -1)
        start = 0
        if prefix is not None:
            extra["cache"], start = prefix.for_batch(len(input_ids)), prefix.length
        keep = start + input_ids.shape[1] - first
        if self._takes("logits_to_keep"):
            extra["logits_to_keep"] = keep
        logits = _head_scores(self.net(input_ids=input_ids, attention_mask=attention_mask, **extra))
        if logits is None:
            raise ExplorerError(f"{self.name} has no prediction head (the checkpoint holds only the encoder): load "
                                "a checkpoint with its pretraining head, e.g. bert-base-uncased or a shipped model")
        return logits[:, logits.shape[1] - keep:]

    def prefix(self, ids: list[int]) -> "Prefix":
        """Run ``ids`` once, keeping their keys and values for every batch that starts with them."""
        if not self.takes_cache:
            raise ExplorerError(f"{self.name}'s network keeps no cache of keys and values: score it without one")
        return Prefix(self.net(input_ids=torch.tensor([ids]), use_cache=True).cache, len(ids))

    def attend(self, input_ids) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores [B, T, V] (None without a head) and attention maps [n_layers, B, n_heads, T, T] for token ids
        [B, T]."""
        with self._attention("eager"):
            out = self.net(input_ids=input_ids, output_attentions=True)
        if not out.attentions:
            raise ExplorerError(f"{self.name} returned no attention maps: load it with eager attention")
        return _head_scores(out), torch.stack(out.attentions)

    def lens(self):
        """``head(h, last)``: vocabulary scores from a layer's hidden states, as the model's own head reads its
        last layer (``last``: h is the last layer, which transformers has already normalised)."""
        if self.spec.lens == "mlm head":
            cls = getattr(self.net, "cls", None)
            if cls is None:
                raise ExplorerError(f"{self.name} has no masked-LM head: the logit lens needs one")
            return lambda h, last: cls.predictions(h)
        head = self.net.get_output_embeddings()
        if self.spec.lens == "head":  # post-LayerNorm blocks: every layer's output is already normalised
            return lambda h, last: head(h)
        norm = self._final_norm()
        return lambda h, last: head(h if last else norm(h))

    def _final_norm(self) -> torch.nn.Module:
        for path in _FINAL_NORMS:
            try:
                return self.net.get_submodule(path)
            except AttributeError:
                continue
        raise ExplorerError(f"{self.name}: cannot find its final LayerNorm, so the logit lens is not available")

    def embedding_parts(self, input_ids, segment_ids) -> dict[str, torch.Tensor]:
        """BERT's input embedding per token [T, d], part by part: token, segment and position."""
        emb = getattr(self.net, "bert", self.net).embeddings
        return {"token": emb.word_embeddings(input_ids), "segment": emb.token_type_embeddings(segment_ids),
                "position": emb.position_embeddings(torch.arange(len(input_ids)))}

    # -- training through the model (see Model) ------------------------------------------------------------
    def _network_inputs(self, items):
        enc, truncated = self._encode(items)
        lengths = enc["attention_mask"].sum(1).tolist()
        return NetworkInputs(self._network_kwargs(enc), enc["attention_mask"], [list(range(n)) for n in lengths],
                             [self._word_ids(enc, b, n, item) for b, (n, item) in enumerate(zip(lengths, items))],
                             truncated)

    def hidden_states(self, inputs, lm_labels=None):
        if lm_labels is None:  # the body alone: a vocabulary projection per token would cost as much again
            out = self.net.base_model(**inputs, output_hidden_states=True)
            return torch.stack(out.hidden_states), None
        out = self.net(**inputs, output_hidden_states=True, labels=lm_labels)
        return torch.stack(out.hidden_states), out.loss

    def add_special_tokens(self, tokens):
        if self.tokenizer.add_tokens(list(tokens), special_tokens=True):
            self.net.resize_token_embeddings(len(self.tokenizer), mean_resizing=False)

    def _fresh_network(self):
        # A config of its own (transformers would write the copy's dtype, and a resize its vocabulary size, into
        # this model's), float32 whatever dtype a save recorded (save writes float16 weights)
        config = copy.deepcopy(self.net.config)
        return type(self.net)._from_config(config, attn_implementation="eager", dtype=torch.float32)

    def save(self, directory, card=None):
        """Weights as float16 safetensors, config.json, tokenizer files and card.json."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.net.half().save_pretrained(directory)
        self.net.float()
        self.tokenizer.save_pretrained(directory)
        card = card if card is not None else self.card
        (directory / "card.json").write_text(json.dumps(card, indent=2))
        return directory


@dataclass
class Prefix:
    """The keys and values of tokens that every sequence of a batch starts with, computed once."""

    cache: object  # a transformers Cache
    length: int

    def for_batch(self, n: int):
        """A fresh cache for a batch of ``n`` (the model appends to it); expand() shares the prefix's tensors."""
        from transformers import DynamicCache

        return DynamicCache(ddp_cache_data=[(layer.keys.expand(n, -1, -1, -1), layer.values.expand(n, -1, -1, -1))
                                            for layer in self.cache.layers])


def _fuse_tanh_gelu(net: torch.nn.Module) -> None:
    """transformers' GPT, GPT-2 and GPT-Neo compute the tanh-approximated GELU op by op in Python
    (NewGELUActivation): a third of a tiny GPT's forward time. torch's fused kernel is the same function (within
    float32 rounding) at a seventh of the cost; the weights and config stay as they are."""
    from transformers.activations import NewGELUActivation

    for module in list(net.modules()):
        for name, child in module.named_children():
            if isinstance(child, NewGELUActivation):
                setattr(module, name, torch.nn.GELU(approximate="tanh"))


def _head_scores(out) -> torch.Tensor | None:
    """A transformers output's pretraining-head scores (BertForPreTraining calls them prediction_logits); None
    from a checkpoint without its head."""
    scores = getattr(out, "logits", None)
    return scores if scores is not None else getattr(out, "prediction_logits", None)


def _keep_present(words, word_ids):
    """Drop words that lost all their tokens to truncation, renumbering the rest."""
    present = sorted({w for w in word_ids if w is not None})
    new = {old: i for i, old in enumerate(present)}
    return [words[w] for w in present], [None if w is None else new[w] for w in word_ids]
