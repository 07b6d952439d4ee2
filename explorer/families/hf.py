"""Transformer families through HF transformers: tracing, saving, and loading real checkpoints."""
import json
import warnings
from bisect import bisect_right
from pathlib import Path

import torch

from ..errors import ExplorerError, TruncationWarning
from ..trace import Trace
from .base import Item, Model


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
        cfg = net.config
        self.n_layers, self.n_heads, self.d_model = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.hidden_size
        self.max_len = getattr(cfg, "max_position_embeddings", None) or cfg.n_positions
        tokenizer.padding_side = "right"
        if tokenizer.pad_token is None:  # GPT-2 and GPT ship without one; pads are cut away anyway
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token

    def _encode(self, items: list[Item]):
        texts = [it.text for it in items]
        pairs = [it.pair for it in items] if any(it.pair is not None for it in items) else None
        if pairs is not None and None in pairs:
            raise ExplorerError("a batch mixes single texts and pairs: trace them separately")
        full = self.tokenizer(texts, pairs, verbose=False)["input_ids"]
        truncated = [len(ids) > self.max_len for ids in full]
        if any(truncated):
            n = max(len(ids) for ids in full)
            warnings.warn(f"input of {n} tokens cut to {self.name}'s context of {self.max_len}", TruncationWarning)
        enc = self.tokenizer(texts, pairs, truncation=True, max_length=self.max_len, padding=True,
                             return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="pt")
        return enc, truncated

    @torch.no_grad()
    def _run(self, items, attentions, logits):
        enc, truncated = self._encode(items)
        inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
        if not self.spec.pairs:
            inputs.pop("token_type_ids", None)
        out = self.net(**inputs, output_hidden_states=True, output_attentions=attentions)
        hidden = torch.stack(out.hidden_states)
        att = torch.stack(out.attentions) if attentions else None
        scores = getattr(out, "logits", None)
        if scores is None:
            scores = getattr(out, "prediction_logits", None)
        nsp = getattr(out, "seq_relationship_logits", None)
        traces = []
        for b, item in enumerate(items):
            n = int(enc["attention_mask"][b].sum())
            ids = enc["input_ids"][b, :n]
            word_ids = align(enc["offset_mapping"][b, :n].tolist(), enc.sequence_ids(b)[:n],
                             enc["special_tokens_mask"][b, :n].tolist(), item)
            words, word_ids = _keep_present(item.words, word_ids)
            traces.append(Trace(
                model=self.name, family=self.family,
                tokens=self.tokenizer.convert_ids_to_tokens(ids.tolist()),
                words=words, word_ids=word_ids, input_ids=ids,
                hidden=hidden[:, b, :n].clone(),
                attentions=att[:, b, :, :n, :n].clone() if att is not None else None,
                logits=scores[b, :n].clone() if logits and scores is not None else None,
                segment_ids=enc["token_type_ids"][b, :n].tolist() if "token_type_ids" in enc else None,
                nsp_logits=nsp[b].clone() if nsp is not None and item.pair is not None else None,
                truncated=truncated[b],
            ))
        return traces

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


def _keep_present(words, word_ids):
    """Drop words that lost all their tokens to truncation, renumbering the rest."""
    present = sorted({w for w in word_ids if w is not None})
    new = {old: i for i, old in enumerate(present)}
    return [words[w] for w in present], [None if w is None else new[w] for w in word_ids]
