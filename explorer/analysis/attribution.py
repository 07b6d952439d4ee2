"""Attribution with Captum: how much each input token pushed the model towards one predicted token.

The explained output is the log-probability of the target at the slot (a [MASK] for BERT, the
next token for causal LMs, the blank or next word for ELMo, see ``prediction.slot``).
Integrated gradients (LayerIntegratedGradients on the input token embeddings; ELMo through its
char-CNN token layer) against a baseline where every word is replaced by padding (special tokens
and the [MASK] stay), with the convergence delta reported; gradient x input is the fast option.
"""
import html
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

from ..errors import ExplorerError
from .attention import token_labels
from .prediction import Slot, check_target, display_token, slot, slot_log_probs, slot_log_probs_from, token_id

METHODS = ("integrated_gradients", "gradient_x_input")
# Work refused before it starts: a forward and backward pass costs about 6 x parameters floating-point operations
# per token (Kaplan et al. 2020). 2e11 took 20-100 s on two busy CPU cores (gpt3-tiny and elmo-tiny, 2026-12).
MAX_FLOP = 2e11
TOKENS_PER_BATCH = 4096  # input tokens per integration batch: bounds the memory the gradients take


@dataclass
class Attribution:
    """Signed scores, one per input token: positive raised the target's log-probability.

    output / baseline_output: the target's log-probability for the input and for the baseline.
    delta: integrated gradients' convergence error, sum(scores) - (output - baseline_output)
    (None for gradient x input, which promises no such sum).
    """

    model: str
    method: str
    tokens: list[str]
    scores: np.ndarray
    target: str
    target_id: int
    probability: float
    output: float
    baseline_output: float
    delta: float | None
    context: str


def _hf_setup(model, s: Slot, target: int):
    """Forward function, input ids, baseline ids and embedding layer for a transformer."""
    tr = s.trace
    ids = tr.input_ids[None]
    segments = torch.tensor(tr.segment_ids)[None] if tr.segment_ids else None

    def forward(input_ids):
        scores = model.scores(input_ids, segment_ids=segments)
        return slot_log_probs_from(model, s, scores[:, s.position])[:, target]

    keep = torch.tensor([i in set(model.tokenizer.all_special_ids) for i in ids[0].tolist()])
    baseline = torch.where(keep, ids[0], model.tokenizer.pad_token_id)[None]
    labels = [display_token(model.tokenizer, i) for i in ids[0].tolist()]
    return forward, ids, baseline, (), model.input_embedding(), labels, slice(None)


def _elmo_setup(model, s: Slot, target: int):
    """The same for ELMo: characters in, attribution at the char-CNN token layer; <S> and </S> dropped after."""
    chars, mask = model.word_inputs(s.words)
    empty, _ = model.word_inputs([""] * len(s.words))

    def forward(char_input, mask_input):
        both = model.word_log_probs(char_input, mask_input, s.index, s.directions)["both"]
        return slot_log_probs_from(model, s, both)[:, target]

    labels = ["___" if i == s.index else w for i, w in enumerate(s.words)]
    return forward, chars, empty, (mask,), model.input_embedding(), labels, slice(1, len(s.words) + 1)


def check_budget(model, n_tokens: int, n_steps: int) -> None:
    """Refuse, before any work, an attribution that would take far too long, saying what would fit."""
    per_token_step = 6 * model.n_params
    cost = per_token_step * n_tokens * n_steps
    if cost > MAX_FLOP:
        tokens_fit = int(MAX_FLOP // (per_token_step * n_steps))
        steps_fit = int(MAX_FLOP // (per_token_step * n_tokens))
        fits = f"at {n_steps} steps up to {tokens_fit:,} tokens fit" + (
            f"; these {n_tokens:,} tokens fit with {steps_fit} steps or fewer" if steps_fit >= 1 else "")
        raise ExplorerError(f"attributing {n_tokens:,} tokens over {n_steps} steps through {model.name} is about "
                            f"{cost / MAX_FLOP:.0f}x the work allowed (about a minute): {fits}. Shorten the text")


def attribute(model, text: str, target: str | None = None, method: str = "integrated_gradients",
              n_steps: int = 50, yield_point=None) -> Attribution:
    """Token attributions for the model's prediction at the slot of ``text`` (target: its top token by default).

    ``yield_point()`` is called before every batch of the integration; it may raise to stop the work
    (the app's pages pass one that stops when the page is rerun or closed).
    """
    if method not in METHODS:
        raise ExplorerError(f"unknown attribution method {method!r}: use one of {METHODS}")
    s = slot(model, text)
    n_tokens = len(s.trace.tokens) if s.trace is not None else len(s.words) + 2  # ELMo adds <S> and </S>
    check_budget(model, n_tokens, n_steps if method == "integrated_gradients" else 1)
    log_probs = slot_log_probs(model, s)
    target_id = int(log_probs.argmax()) if target is None else token_id(model, target)
    check_target(model, s, log_probs, target_id)
    setup = _elmo_setup if model.spec.objective == "bidirectional" else _hf_setup  # ELMo reads characters
    forward, inputs, baseline, extra, layer, labels, real = setup(model, s, target_id)
    if yield_point is not None:
        forward = _yielding(forward, yield_point)
    with torch.enable_grad():
        if method == "integrated_gradients":
            ig = LayerIntegratedGradients(forward, layer)
            batch = max(1, min(n_steps, TOKENS_PER_BATCH // n_tokens))
            attr, delta = ig.attribute(inputs, baselines=baseline, additional_forward_args=extra or None,
                                       n_steps=n_steps, internal_batch_size=batch, return_convergence_delta=True)
            delta = float(delta.sum())
        else:
            attr = LayerGradientXActivation(forward, layer).attribute(inputs, additional_forward_args=extra or None)
            delta = None
    with torch.no_grad():
        output, baseline_output = float(forward(inputs, *extra)), float(forward(baseline, *extra))
    scores = attr[0].sum(-1).detach().float().numpy()[real]
    return Attribution(model.name, method, labels, scores, display_token(model.tokenizer, target_id), target_id,
                       float(log_probs[target_id].exp()), output, baseline_output, delta, s.context)


def _yielding(forward, yield_point):
    def checked(*args):
        yield_point()
        return forward(*args)

    return checked


def attribution_html(a: Attribution) -> str:
    """The tokens as coloured text: red raised the target, blue lowered it; hover shows the score."""
    scale = float(np.abs(a.scores).max()) or 1.0
    spans = []
    for token, score in zip(a.tokens, a.scores):
        rgb = "214,39,40" if score >= 0 else "31,119,180"
        alpha = 0.1 + 0.8 * abs(float(score)) / scale
        spans.append(f'<span title="{score:+.4f}" style="background: rgba({rgb},{alpha:.2f}); padding: 1px 3px; '
                     f'margin: 1px; border-radius: 3px">{html.escape(token)}</span>')
    caption = (f"{html.escape(a.model)} → {html.escape(a.target)!s} (p = {a.probability:.3f}; "
               f"{a.method.replace('_', ' ')}" + (f", delta {a.delta:+.2e}" if a.delta is not None else "") + ")")
    return f'<div style="line-height: 2">{"".join(spans)}</div><div style="font-size: 80%">{caption}</div>'


def attribution_figure(a: Attribution) -> go.Figure:
    """Signed score per token as a bar chart."""
    colours = ["#d62728" if v >= 0 else "#1f77b4" for v in a.scores]
    fig = go.Figure(go.Bar(x=token_labels(a.tokens), y=a.scores, marker_color=colours,
                           hovertemplate="%{x}: %{y:+.4f}<extra></extra>"))
    delta = f", convergence delta {a.delta:+.2e}" if a.delta is not None else ""
    fig.update_layout(title=f"{a.model}: what raised log p({a.target!r}) ({a.method.replace('_', ' ')}{delta})",
                      xaxis=dict(title="input token", tickangle=-60), yaxis=dict(title="attribution"))
    return fig
