"""Prediction through each model's own pretraining head, and the logit lens.

A *slot* is where a model is asked for one token, each family in its own way: BERT's masked LM
fills a [MASK] from both sides; a causal LM (GPT, GPT-2, GPT-3) predicts it from the text on its
left; ELMo combines its forward LM (left context) and backward LM (right context). A blank is
written ``___`` (or ``[MASK]``); a causal LM or ELMo given no blank predicts the next token.
A blank holds a word, so its candidates exclude special tokens (<unk>, [SEP], <|endoftext|>...),
and where a tokenizer marks word starts (byte-level BPE's Ġ) a causal LM's candidates are the
word-initial tokens (renormalised): after "the" GPT-2 would otherwise propose "y", continuing the
word into "they". A plain next-token request keeps the whole vocabulary.
"""
import functools
import re
import warnings
from dataclasses import dataclass

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import torch

from ..errors import ExplorerError, TruncationWarning
from ..text import check_text, split_words
from ..trace import Trace

BLANK = re.compile(r"_{3,}|\[MASK\]")
_PLACEHOLDER = "___"


@dataclass
class Slot:
    """One prediction request, ready for a forward pass.

    HF models: ``trace`` of the input and the ``position`` whose scores predict the slot.
    ELMo: the ``words`` with the slot at ``index`` (an empty placeholder word) and which LMs see it.
    """

    context: str
    trace: Trace | None = None
    position: int | None = None
    words: list[str] | None = None
    index: int | None = None
    directions: tuple[str, ...] = ()
    blank: bool = False  # a word slot: special tokens may not fill it
    word_start: bool = False  # only tokens that begin a word may fill it


# -- tokens ---------------------------------------------------------------------------------------------

def display_token(tokenizer, token_id: int) -> str:
    """A token as a reader would write it (no BPE end-of-word or byte-level space marks)."""
    text = tokenizer.decode([int(token_id)]).strip()
    if not text or "\ufffd" in text:  # a bare space, or a byte that is only part of a character
        return tokenizer.convert_ids_to_tokens(int(token_id))
    return text


def token_id(model, target: str) -> int:
    """The vocabulary id of ``target``: a token as spelled in the vocabulary, or a word that is one token."""
    if not isinstance(target, str) or not target.strip():
        raise ExplorerError("the target token is empty: give a word or a token of the model's vocabulary")
    tok = model.tokenizer
    vocab = tok.get_vocab()
    if target in vocab:
        return vocab[target]
    pieces = None
    for prefix in (" ", ""):  # byte-level BPE spells a word after a space with a leading Ġ
        ids = tok(prefix + target.strip(), add_special_tokens=False)["input_ids"]
        pieces = pieces or tok.convert_ids_to_tokens(ids)
        if len(ids) == 1 and ids[0] != tok.unk_token_id:
            return ids[0]
    why = "it is unknown to it" if pieces in ([], [tok.unk_token]) else f"it splits into {pieces}"
    raise ExplorerError(f"{target!r} is not one token in {model.name}'s vocabulary of {len(tok)}: {why}. "
                        "Choose a target that is a single token, e.g. one of the model's own top predictions")


def _top_table(log_probs: torch.Tensor, tokenizer, top_k: int) -> pd.DataFrame:
    if not isinstance(top_k, int) or top_k < 1:
        raise ExplorerError(f"top_k must be a positive whole number, got {top_k!r}")
    top = log_probs.exp().topk(min(top_k, log_probs.shape[-1]))
    ids = top.indices.tolist()
    return pd.DataFrame({"rank": range(1, len(ids) + 1), "token": [display_token(tokenizer, i) for i in ids],
                         "probability": top.values.tolist(), "token_id": ids})


def _need_head(model, trace: Trace):
    if trace.logits is None:
        raise ExplorerError(f"{model.name} has no prediction head (the checkpoint holds only the encoder): "
                            "load a checkpoint with its pretraining head, e.g. bert-base-uncased or a shipped model")


# -- slots -------------------------------------------------------------------------------------------------

def _fit_left(model, text: str) -> str:
    """Keep the end of a text too long for a causal LM's context: the prediction comes after its last token."""
    enc = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    n = len(enc["input_ids"])
    if n <= model.max_len:
        return text
    warnings.warn(f"text of {n} tokens is longer than {model.name}'s context of {model.max_len}: "
                  f"kept its last {model.max_len} tokens", TruncationWarning)
    while n > model.max_len:
        text = text[enc["offset_mapping"][n - model.max_len][0]:]
        enc = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        n = len(enc["input_ids"])
    return text


def _causal_slot(model, text: str) -> Slot:
    blank = BLANK.search(text)
    left = (text[:blank.start()] if blank else text).rstrip()
    at_start = not left
    if at_start:  # the document-boundary token stands in for the missing left context
        left = model.tokenizer.bos_token or model.tokenizer.eos_token
        if left is None:
            raise ExplorerError(f"{model.name} has no start-of-text token to predict the first word from: "
                                "put some words before the blank")
    tr = model.trace(_fit_left(model, left), attentions=False)
    _need_head(model, tr)
    return Slot("left context" + (" only" if blank and text[blank.end():].strip() else ""), tr, len(tr.tokens) - 1,
                blank=blank is not None, word_start=blank is not None and not at_start)


@functools.lru_cache(maxsize=16)
def _word_starts(tokenizer) -> torch.Tensor | None:
    """[vocab] bool: tokens that begin a word, for tokenizers that mark them (Ġ, ▁); None for the others."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    starts = torch.tensor([t is not None and t.startswith(("Ġ", "▁")) for t in tokens])
    return starts if starts.any() else None


def _allowed(model, s: Slot, size: int) -> torch.Tensor | None:
    """[size] bool: the tokens that may fill the slot; None when any may (a plain next-token request)."""
    if not s.blank:
        return None
    allowed = torch.ones(size, dtype=torch.bool)
    allowed[[i for i in model.tokenizer.all_special_ids if i < size]] = False
    starts = _word_starts(model.tokenizer) if s.word_start else None
    if starts is not None:
        n = min(len(starts), size)
        allowed[:n] &= starts[:n]
        allowed[n:] = False
    return allowed


def slot_log_probs_from(model, s: Slot, scores: torch.Tensor) -> torch.Tensor:
    """Log-probabilities [..., vocab] over what may fill the slot, from raw scores (or log-probabilities)."""
    scores = scores.float()
    allowed = _allowed(model, s, scores.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    return scores.log_softmax(-1)


def check_target(model, s: Slot, log_probs: torch.Tensor, target_id: int):
    """A chosen target must be able to fill the slot."""
    if torch.isinf(log_probs[..., target_id]).all():
        raise ExplorerError(f"{display_token(model.tokenizer, target_id)!r} cannot fill a blank that holds a word "
                            "(it is a special token, or it continues a word): choose a word-initial token")


def _bert_slot(model, text: str) -> Slot:
    """The first [MASK] (or ___); fill_mask reads the others from the same trace."""
    mask = model.tokenizer.mask_token
    if not BLANK.search(text):
        raise ExplorerError(f"no {mask} in {text!r}: put {mask} (or ___) where the word to predict goes, "
                            f"e.g. 'the {mask} barked .'")
    tr = model.trace(re.sub(r"_{3,}", mask, text), attentions=False)
    _need_head(model, tr)
    positions = mask_positions(model, tr)
    if not positions:
        raise ExplorerError(f"every {mask} in the text lies beyond {model.name}'s context of {model.max_len} "
                            "tokens: shorten the text")
    return Slot("both sides (masked LM)", tr, positions[0], blank=True)


def mask_positions(model, trace: Trace) -> list[int]:
    """Token positions of the [MASK]s that survived truncation."""
    return (trace.input_ids == model.tokenizer.mask_token_id).nonzero().flatten().tolist()


def _elmo_slot(model, text: str, word: int | None = None) -> Slot:
    if word is not None:
        words = [w for w, _, _ in split_words(text)]
        if not 0 <= word < len(words):
            raise ExplorerError(f"word {word} does not exist: the text has words 0..{len(words) - 1}")
        words[word] = _PLACEHOLDER
    else:
        words = [w for w, _, _ in split_words(BLANK.sub(f" {_PLACEHOLDER} ", check_text(text)))]
    if _PLACEHOLDER in words:
        index, directions, context = words.index(_PLACEHOLDER), ("forward", "backward"), "both sides (two LMs)"
    else:  # no blank: the forward LM's next word
        index, directions, context = len(words), ("forward",), "left context (forward LM)"
        words = words + [_PLACEHOLDER]
    if not model.has_softmax:
        raise ExplorerError(f"{model.name} has no LM softmax (AllenNLP releases ship without one): it cannot "
                            "predict words; its layers can still be probed")
    words[index] = ""  # an empty word: neither LM direction sees the slot itself
    return Slot(context, words=words, index=index, directions=directions, blank=len(directions) == 2)


def slot(model, text: str) -> Slot:
    """Where ``model`` is asked for a token in ``text`` (a blank; or, for causal LMs and ELMo, the next token)."""
    check_text(text)
    return {"masked": _bert_slot, "bidirectional": _elmo_slot, "causal": _causal_slot}[model.spec.objective](model, text)


@torch.no_grad()
def slot_log_probs(model, s: Slot) -> torch.Tensor:
    """[vocab] log-probabilities the model gives the slot."""
    if s.trace is not None:
        return slot_log_probs_from(model, s, s.trace.logits[s.position])
    both = model.word_log_probs(*model.word_inputs(s.words), s.index, s.directions)["both"]
    return slot_log_probs_from(model, s, both[0])


# -- the public calls ---------------------------------------------------------------------------------------

def fill_mask(model, text: str, top_k: int = 5) -> pd.DataFrame:
    """BERT's top-k for every [MASK] (each predicted independently): mask, position, rank, token, probability."""
    if model.spec.objective != "masked":
        raise ExplorerError(f"{model.name} is a {model.spec.display} model, not a masked LM: use next_token or "
                            "blank_table for it")
    first = _bert_slot(model, check_text(text))
    tables = []
    for number, position in enumerate(mask_positions(model, first.trace)):
        table = _top_table(slot_log_probs_from(model, first, first.trace.logits[position]), model.tokenizer, top_k)
        tables.append(table.assign(mask=number + 1, position=position))
    return pd.concat(tables, ignore_index=True)[["mask", "position", "rank", "token", "probability", "token_id"]]


def whole_word_mask(model, text: str, word: int | str) -> tuple[str, list[str]]:
    """``text`` with one word replaced by one [MASK] per word piece, and those pieces.

    ``word`` is a word index (as split_words counts) or the word itself (its first occurrence).
    """
    if model.spec.objective != "masked":
        raise ExplorerError("whole-word masking is for masked LMs (BERT)")
    spans = split_words(text)
    words = [w for w, _, _ in spans]
    if isinstance(word, str):
        if word not in words:
            raise ExplorerError(f"{word!r} is not a word of the text; its words are {words}")
        word = words.index(word)
    if not 0 <= word < len(words):
        raise ExplorerError(f"word {word} does not exist: the text has words 0..{len(words) - 1}")
    w, start, end = spans[word]
    pieces = model.tokenizer.tokenize(w)
    return text[:start] + " ".join([model.tokenizer.mask_token] * len(pieces)) + text[end:], pieces


def nsp_probability(model, first: str, second: str) -> float:
    """BERT's probability that ``second`` follows ``first`` (next-sentence prediction)."""
    if not model.spec.pairs:
        raise ExplorerError(f"next-sentence prediction is BERT's objective; {model.name} is a {model.spec.display} "
                            "model")
    tr = model.trace(first, pair=second, attentions=False)
    if tr.nsp_logits is None:
        raise ExplorerError(f"{model.name} has no next-sentence head: load a BertForPreTraining checkpoint")
    return float(tr.nsp_logits.float().softmax(-1)[0])


def next_token(model, text: str, top_k: int = 5) -> pd.DataFrame:
    """A causal LM's top-k next tokens after ``text``."""
    if not model.causal:
        hint = "use fill_mask with a [MASK]" if model.spec.objective == "masked" else "use elmo_predictions"
        raise ExplorerError(f"{model.name} is not a left-to-right LM: {hint}")
    s = _causal_slot(model, check_text(text))
    return _top_table(slot_log_probs(model, s), model.tokenizer, top_k)


@torch.no_grad()
def elmo_predictions(model, text: str, word: int, top_k: int = 5) -> pd.DataFrame:
    """ELMo's guesses for word number ``word``: from the left (forward LM), the right (backward LM), and both."""
    if model.spec.objective != "bidirectional":
        raise ExplorerError(f"{model.name} is not an ELMo model")
    s = _elmo_slot(model, text, word)
    per = model.word_log_probs(*model.word_inputs(s.words), s.index)
    per = {d: slot_log_probs_from(model, s, lp[0]) for d, lp in per.items()}
    return pd.concat([_top_table(lp, model.tokenizer, top_k).assign(direction=d) for d, lp in per.items()],
                     ignore_index=True)[["direction", "rank", "token", "probability", "token_id"]]


def predict(model, text: str, top_k: int = 5) -> pd.DataFrame:
    """One model's top-k, the way it can: BERT for every [MASK]; a causal LM or ELMo for the blank, or next."""
    if model.spec.objective == "masked":
        return fill_mask(model, text, top_k)
    s = slot(model, text)
    return _top_table(slot_log_probs(model, s), model.tokenizer, top_k).assign(context=s.context)


def blank_table(models, text: str, top_k: int = 5) -> pd.DataFrame:
    """Every model's top-k for the one blank in ``text`` (``___`` or ``[MASK]``), each the way it can see it."""
    check_text(text)
    if len(BLANK.findall(text)) != 1:
        raise ExplorerError(f"write exactly one blank (___ or [MASK]) in the sentence, e.g. 'the ___ barked .'; "
                            f"found {len(BLANK.findall(text))}")
    tables = []
    for model in models:
        s = slot(model, text)
        table = _top_table(slot_log_probs(model, s), model.tokenizer, top_k)
        tables.append(table.assign(model=model.name, family=model.family, context=s.context))
    return pd.concat(tables, ignore_index=True)[["model", "family", "context", "rank", "token", "probability"]]


def top_k_figure(table: pd.DataFrame, title: str = "") -> go.Figure:
    """Bars of a top-k table; one panel per model (blank_table) or per mask/direction."""
    facet = next((c for c in ("model", "mask", "direction") if c in table.columns), None)
    fig = px.bar(table, x="probability", y="token", orientation="h", facet_col=facet, title=title,
                 hover_data=[c for c in ("rank", "context") if c in table.columns])
    fig.update_traces(texttemplate="%{x:.1%}", textposition="outside", cliponaxis=False)  # p = 0.01 stays readable
    fig.update_yaxes(autorange="reversed", matches=None, showticklabels=True, type="category")  # a token "7" is a label
    # scaled to the largest bar (not 0-1) so small probabilities are visible; the labels carry the values
    fig.update_xaxes(range=[0, 1.3 * float(table["probability"].max())], title="probability (axis to the largest bar)")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig


# -- logit lens -------------------------------------------------------------------------------------------

@torch.no_grad()
def logit_lens(model, text: str, target: str | None = None) -> pd.DataFrame:
    """Rank and probability of ``target`` at the slot, read out of every layer through the model's own head.

    BERT: the MLM head on each layer. GPT family: the final LayerNorm (where the model has one) and
    the LM head on each layer. The target defaults to the model's own top prediction.
    """
    if model.spec.lens is None:
        raise ExplorerError("the logit lens reads a transformer's layers through its LM head; ELMo's softmax "
                            "only reads its top layer: use elmo_predictions")
    s = slot(model, text)
    head = model.lens()
    hidden = s.trace.hidden[:, s.position].float()
    last = hidden.shape[0] - 1
    log_probs = slot_log_probs_from(model, s, torch.stack([head(h[None], l == last)[0] for l, h in enumerate(hidden)]))
    target_id = int(slot_log_probs(model, s).argmax()) if target is None else token_id(model, target)
    check_target(model, s, log_probs, target_id)
    p = log_probs[:, target_id].exp()
    rank = (log_probs > log_probs[:, target_id:target_id + 1]).sum(-1) + 1
    top = log_probs.argmax(-1)
    return pd.DataFrame({
        "layer": range(last + 1), "target": display_token(model.tokenizer, target_id), "rank": rank.tolist(),
        "probability": p.tolist(), "top_token": [display_token(model.tokenizer, i) for i in top.tolist()],
        "top_probability": log_probs.max(-1).values.exp().tolist(),
    })


def logit_lens_figure(table: pd.DataFrame, model_name: str = "") -> go.Figure:
    """Probability (bars) and rank (line, log scale) of the target by layer."""
    fig = go.Figure()
    fig.add_bar(x=table["layer"], y=table["probability"], name="probability", text=table["top_token"],
                hovertemplate="layer %{x}: p=%{y:.3f}<br>top token: %{text}<extra></extra>")
    fig.add_scatter(x=table["layer"], y=table["rank"], name="rank", yaxis="y2", mode="lines+markers")
    fig.update_layout(
        title=f"{model_name}: logit lens for {table['target'].iloc[0]!r}".strip(": "),
        xaxis=dict(title="layer (0 = embeddings)", dtick=1), yaxis=dict(title="probability", range=[0, 1]),
        yaxis2=dict(title="rank (1 = top)", overlaying="y", side="right", type="log", autorange="reversed",
                    **rank_ticks(int(table["rank"].max()))),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"))  # above the plot
    return fig


def rank_ticks(highest: int) -> dict:
    """Integer ticks 1, 2, 5, 10, 20, 50, ... up to ``highest`` for a log-scale rank axis (plotly's own
    log ticks fall between integers)."""
    ticks = [m * 10 ** e for e in range(len(str(max(highest, 1)))) for m in (1, 2, 5) if m * 10 ** e <= max(highest, 1)]
    return dict(tickvals=ticks, ticktext=[str(t) for t in ticks])
