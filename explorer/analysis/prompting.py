"""Few-shot prompting of causal language models (Brown et al. 2020).

A prompt is k demonstrations and a query written with a task's template. Classification answers are
chosen by scoring each candidate label's log-likelihood after the prompt; open answers are decoded
greedily up to the template's separator. The same prompts (same demonstration seed) go to every model,
and accuracy against k, over several seeds, shows how much each model learns from the context.
"""
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.colors import hex_to_rgb, qualitative

from ..data.tasks import Example, Task, Template, get_task, relabel
from ..errors import ExplorerError, TruncationWarning

def check_causal(model) -> None:
    """Few-shot prompting needs a left-to-right (causal) language model."""
    if not model.causal:
        why = model.spec.not_prompted or f"{model.spec.display} is not a left-to-right language model"
        raise ExplorerError(f"{model.name} cannot be prompted: {why}. Choose a causal model (gpt-tiny, gpt2-tiny, "
                            "gpt3-tiny, or a GPT, GPT-2 or GPT-Neo checkpoint)")


# -- prompts ------------------------------------------------------------------------------------------
@dataclass
class Prompt:
    """The exact text a model sees, and what it is made of."""

    text: str
    demos: list[Example]
    query: Example
    template: Template

    @property
    def shots(self) -> int:
        return len(self.demos)


def build_prompt(demos: list[Example], query_input: str, template: Template = Template(),
                 instruction: str = "") -> str:
    """Instruction (if any) and demonstrations, each followed by the separator, then the query's input."""
    head = instruction.strip() + template.separator if instruction.strip() else ""
    return head + "".join(template.example(d) for d in demos) + template.query(query_input)


def make_prompt(task: Task, index: int, k: int, seed: int, template: Template | None = None,
                instruction: str = "") -> Prompt:
    """Query ``index`` of ``task`` with ``k`` demonstrations drawn with ``seed``."""
    demos, query = task.episode(index, k, seed)
    template = template or task.template
    return Prompt(build_prompt(demos, query.input, template, instruction), demos, query, template)


# -- tokens -------------------------------------------------------------------------------------------
def _ids(model, text: str) -> list[int]:
    return model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]


def document_start(model) -> list[int]:
    """A document boundary before the prompt, as between training documents (when the tokenizer has one)."""
    tok = model.tokenizer
    first = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    return [] if first is None else [first]


def _with_answer(model, prompt: str, answer: str) -> tuple[list[int], int]:
    """Prompt and answer tokenized together, and the index of the first token reaching into the answer.

    Tokenizing them together (not prompt and answer apart) gives the tokens the model would really
    read; a token straddling the boundary counts as part of the answer.
    """
    enc = model.tokenizer(prompt + answer, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    start = document_start(model)
    first = next((i for i, (_, end) in enumerate(enc["offset_mapping"]) if end > len(prompt)), None)
    if first is None:
        raise ExplorerError(f"the answer {answer!r} vanishes in {model.name}'s tokenizer: choose another label")
    if first + len(start) == 0:
        raise ExplorerError("the prompt is empty: there is nothing to answer after")
    return start + enc["input_ids"], first + len(start)


def _shared_prefix(id_lists: list[list[int]], limit: int) -> int:
    """How many tokens (at most ``limit``) every sequence starts with."""
    first = id_lists[0]
    for ids in id_lists[1:]:
        limit = next((n for n, (a, b) in enumerate(zip(first[:limit], ids)) if a != b), limit)
    return limit


def _batches(model, id_lists: list[list[int]], batch_size: int, starts: list[int], shared: int = 0):
    """(indices, logits [B, T, V], offset) over right-padded batches of similar length: ``logits[:, t]`` predicts
    the token after position ``offset + t``, for every position from ``starts[i]`` on (the vocabulary-wide
    logits of earlier positions are not computed where the model can skip them).

    Pads come after each sequence, so a causal model's scores at real positions never see them. The first
    ``shared`` tokens, the same in every sequence (the demonstrations), run once: every batch reuses their keys
    and values.
    """
    too_long = max(len(x) for x in id_lists)
    if too_long > model.max_len:
        raise ExplorerError(f"the prompt and its answer take {too_long} tokens, more than {model.name}'s context of "
                            f"{model.max_len}: use fewer shots or a shorter instruction")
    with torch.no_grad():
        prefix = model.prefix(id_lists[0][:shared]) if shared else None
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        width = max(len(id_lists[i]) for i in idx) - shared
        ids = torch.zeros(len(idx), width, dtype=torch.long)
        mask = torch.zeros(len(idx), shared + width, dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, :len(id_lists[i]) - shared] = torch.tensor(id_lists[i][shared:])
            mask[row, :len(id_lists[i])] = 1
        offset = min(starts[i] for i in idx)
        with torch.no_grad():
            yield idx, model.scores(ids, attention_mask=mask, prefix=prefix, first=offset).float(), offset


def _last_logprobs(model, id_lists, batch_size=16, shared=0) -> torch.Tensor:
    """[N, V]: the next-token log-probabilities after each sequence."""
    out = torch.empty(len(id_lists), 0)
    lasts = [len(ids) - 1 for ids in id_lists]
    for idx, logits, offset in _batches(model, id_lists, batch_size, lasts, shared):
        last = torch.tensor([lasts[i] - offset for i in idx])
        lp = logits[torch.arange(len(idx)), last].log_softmax(-1)
        if out.shape[1] == 0:
            out = torch.empty(len(id_lists), lp.shape[1])
        out[idx] = lp
    return out


def _span_loglik(model, id_lists, firsts, batch_size=16, shared=0) -> list[float]:
    """Sum of log P(token | tokens before it) over each sequence's tokens from ``firsts[i]`` on."""
    out = [0.0] * len(id_lists)
    for idx, logits, offset in _batches(model, id_lists, batch_size, [f - 1 for f in firsts], shared):
        lp = logits.log_softmax(-1)
        for row, i in enumerate(idx):
            pos = torch.arange(firsts[i], len(id_lists[i]))
            out[i] = float(lp[row, pos - 1 - offset, torch.tensor(id_lists[i])[pos]].sum())
    return out


# -- answers ------------------------------------------------------------------------------------------
def score_answers(model, prompts: list[str], answers: list[list[str]], batch_size=16,
                  cache: bool = True) -> list[np.ndarray]:
    """Log-likelihood of each answer text (e.g. " positive") after its prompt: the sum of its tokens' log-probs.

    When prompt + answer tokenizes as the prompt's own tokens followed by the answer's, answers sharing
    their first tokens share forward passes (one pass per distinct token prefix: ten one-token labels cost
    one pass); otherwise prompt + answer is scored as one sequence. With ``cache`` (and a model that takes
    one), the tokens all prompts start with (shared demonstrations) run once and their keys and values serve
    every prompt.
    """
    check_causal(model)
    prefix_runs: dict[tuple, int] = {}  # (prompt tokens + answer token prefix) -> row in the run list
    stable, joint = [], []  # (prompt i, answer j, run rows, answer tokens) / (prompt i, answer j, ids, first)
    for i, (prompt, options) in enumerate(zip(prompts, answers)):
        prompt_ids = document_start(model) + _ids(model, prompt)
        for j, answer in enumerate(options):
            ids, first = _with_answer(model, prompt, answer)
            if ids[:first] != prompt_ids:
                joint.append((i, j, ids, first))
                continue
            tokens = ids[first:]
            rows = [prefix_runs.setdefault(tuple(prompt_ids + tokens[:n]), len(prefix_runs))
                    for n in range(len(tokens))]
            stable.append((i, j, rows, tokens))
    runs = [list(key) for key in prefix_runs]
    shared = 0
    if cache and model.takes_cache and len(runs) + len(joint) > 1:  # one sequence alone has nothing to share
        limit = min([len(r) - 1 for r in runs] + [first - 1 for _, _, _, first in joint])
        shared = _shared_prefix(runs + [ids for _, _, ids, _ in joint], limit)
    scores = [np.zeros(len(options)) for options in answers]
    if runs:
        lp = _last_logprobs(model, runs, batch_size, shared)
        for i, j, rows, tokens in stable:
            scores[i][j] = float(lp[rows, tokens].sum())
    if joint:
        for (i, j, _, _), ll in zip(joint, _span_loglik(model, [x[2] for x in joint], [x[3] for x in joint],
                                                        batch_size, shared)):
            scores[i][j] = ll
    return scores


def _writes(model, stop: str) -> bool:
    """Whether the tokenizer keeps ``stop`` (GPT's tokenizer drops newlines, so it never writes one)."""
    return stop in model.tokenizer.decode(_ids(model, f"a{stop}b"))


def generate(model, prompts: list[str], stop: str = "\n", max_new_tokens: int = 8,
             batch_size=16) -> list[tuple[str, list[float]]]:
    """Greedy continuations, each cut at ``stop`` (or after ``max_new_tokens``), with each token's log-prob."""
    check_causal(model)
    seqs = [document_start(model) + _ids(model, p) for p in prompts]
    new: list[list[int]] = [[] for _ in prompts]
    logps: list[list[float]] = [[] for _ in prompts]
    active = [i for i in range(len(prompts))]
    eos = model.tokenizer.eos_token_id
    for _ in range(max_new_tokens):
        active = [i for i in active if len(seqs[i]) + len(new[i]) < model.max_len]
        if not active:
            break
        lp = _last_logprobs(model, [seqs[i] + new[i] for i in active], batch_size)
        still = []
        for row, i in enumerate(active):
            token = int(lp[row].argmax())
            if token == eos:
                continue
            new[i].append(token)
            logps[i].append(float(lp[row, token]))
            if not stop or stop not in model.tokenizer.decode(new[i]):
                still.append(i)
        active = still
    return [_cut(model, tokens, lps, stop) for tokens, lps in zip(new, logps)]


def _cut(model, tokens, logps, stop):
    """The text before ``stop``, and the log-probs of the tokens that wrote it."""
    text = model.tokenizer.decode(tokens)
    if not stop or stop not in text:
        return text, logps
    answer = text.split(stop)[0]
    n = next(n for n in range(len(tokens) + 1) if stop in model.tokenizer.decode(tokens[:n]))
    keep = n if model.tokenizer.decode(tokens[:n - 1]).strip() != answer.strip() else n - 1
    return answer, logps[:keep]


def _normalise(model, text: str) -> str:
    """Text as the model's tokenizer normalises it (GPT lower-cases), with whitespace collapsed."""
    norm = model.tokenizer.backend_tokenizer.normalizer
    return " ".join((norm.normalize_str(text) if norm is not None else text).split())


def _as_compared(answer: str, expected: str, stop_written: bool) -> str:
    """The answer, stripped; when the tokenizer cannot write the separator (GPT drops newlines) the answer runs
    on into the next example, so it is cut to as many words as the expected answer has."""
    return answer.strip() if stop_written else " ".join(answer.split()[:len(expected.split())])


def _same(model, answer: str, expected: str) -> bool:
    """Exact match after the model's own normalisation."""
    return _normalise(model, answer) == _normalise(model, expected)


# -- contextual calibration (Zhao et al. 2021) ---------------------------------------------------------
CONTENT_FREE = ("N/A", "", "[MASK]")  # queries that carry no sentiment (or any label)


def label_probs(logliks) -> np.ndarray:
    """Log-likelihoods of the labels [..., L] as probabilities normalised over the labels."""
    ll = np.asarray(logliks, dtype=float)
    p = np.exp(ll - ll.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def calibrate(logliks, content_free) -> np.ndarray:
    """Label probabilities [N, L] divided by their mean p_cf over content-free queries [C, L] asked after the same
    demonstrations, renormalised: what the prompt alone pushes towards is divided out."""
    p = label_probs(logliks) / label_probs(content_free).mean(0)
    return p / p.sum(-1, keepdims=True)


def label_biases(predictions: pd.DataFrame, column: str = "answer") -> dict:
    """majority: the share of answers that are the most predicted label; recency: the share equal to the last
    demonstration's label (over prompts whose demonstrations show labels)."""
    answers = predictions[column]
    shown = predictions.last_label != ""
    return dict(majority=float(answers.value_counts(normalize=True).iloc[0]),
                recency=float((answers[shown] == predictions.last_label[shown]).mean()) if shown.any() else np.nan)


# -- one prompt, many models ----------------------------------------------------------------------------
def compare(models, prompt: str, labels: list[str] | None = None, template: Template = Template(),
            expected: str | None = None, max_new_tokens: int = 8) -> pd.DataFrame:
    """The same prompt on every model: its answer and the answer's probability.

    With ``labels`` each label is scored as the template writes it after the prompt (a column of
    log-likelihoods per label, and the answer's share of probability among the labels); without, the
    answer is decoded greedily up to the template's separator.
    """
    rows = []
    for model in models:
        row = dict(model=model.name)
        if labels:
            ll = score_answers(model, [prompt], [[template.answer(lab) for lab in labels]])[0]
            best = int(ll.argmax())
            share = label_probs(ll)
            row |= dict(answer=labels[best], probability=float(np.exp(ll[best])), share=float(share[best]))
            row |= {f"loglik {lab}": float(v) for lab, v in zip(labels, ll)}
        else:
            text, lps = generate(model, [prompt], template.separator, max_new_tokens)[0]
            row |= dict(answer=text.strip(), probability=float(np.exp(sum(lps))))
        if expected is not None:
            if not labels:
                row["answer"] = _as_compared(row["answer"], expected, _writes(model, template.separator))
            row["correct"] = _same(model, row["answer"], expected)
        rows.append(row)
    return pd.DataFrame(rows)


# -- accuracy against k -------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """One model on one task at one k and one demonstration seed."""

    model: str
    task: str
    k: int
    seed: int
    accuracy: float
    shots_used: int  # fewest demonstrations that fitted the context, over the queries
    predictions: pd.DataFrame  # query, expected, answer, probability, correct, shots, prompt (+ last_label, raw_*)
    calibrated: bool = False


def fit_prompt(model, task: Task, index: int, k: int, seed: int, template: Template | None = None,
               instruction: str = "", reserve: int = 1) -> Prompt:
    """The prompt with ``k`` shots, dropping the earliest demonstrations until it (and ``reserve`` answer
    tokens) fits the model's context."""
    prompt = make_prompt(task, index, k, seed, template, instruction)
    budget = model.max_len - reserve - len(document_start(model))
    demos = list(prompt.demos)
    while True:
        text = build_prompt(demos, prompt.query.input, prompt.template, instruction)
        n = len(_ids(model, text))
        if n <= budget:
            return Prompt(text, demos, prompt.query, prompt.template)
        if not demos:
            raise ExplorerError(f"{task.name}'s query alone takes {n} tokens: it does not fit {model.name}'s "
                                f"context of {model.max_len} tokens")
        demos.pop(0)


def _answer_budget(model, task: Task, template: Template) -> int:
    """Tokens to keep free for the answer: the longest label, or the longest expected output plus two."""
    texts = task.labels if task.classification else [e.output for e in task.examples] or ["x"]
    longest = max(len(_ids(model, template.answer(t))) for t in texts)
    return longest if task.classification else min(longest + 2, 32)


def _classify(model, prompts: list[Prompt], labels, instruction: str, batch_size: int, calibrated: bool,
              cache: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Label log-likelihoods [N, L], and with ``calibrated`` the calibrated label probabilities [N, L].

    Prompts with the same demonstrations are scored together (with the content-free queries after them), so
    that a cache of their shared prefix serves them all; prompts whose demonstrations are their own (retrieval
    draws them per query) share nothing to cache and are batched together instead.
    """
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(tuple(p.demos), []).append(i)
    alone = [idx[0] for idx in groups.values() if len(idx) == 1 and not calibrated]
    batches = [idx for idx in groups.values() if len(idx) > 1 or calibrated] + ([alone] if alone else [])
    template = prompts[0].template
    options = [template.answer(lab) for lab in labels]
    logliks, probs = np.zeros((len(prompts), len(labels))), np.zeros((len(prompts), len(labels)))
    for idx in batches:
        texts = [prompts[i].text for i in idx]
        if calibrated:
            texts += [build_prompt(prompts[idx[0]].demos, cf, template, instruction) for cf in CONTENT_FREE]
        scores = np.array(score_answers(model, texts, [options] * len(texts), batch_size, cache))
        logliks[idx] = scores[:len(idx)]
        if calibrated:
            probs[idx] = calibrate(scores[:len(idx)], scores[len(idx):])
    return logliks, probs if calibrated else None


def evaluate(model, task: Task, k: int, seed: int, n_queries: int = 50, template: Template | None = None,
             instruction: str = "", batch_size: int = 16, calibrated: bool = False,
             cache: bool = True) -> Evaluation:
    """Accuracy of ``model`` on the first ``n_queries`` queries of ``task`` with ``k`` shots drawn with ``seed``.

    ``calibrated``: classify by contextual calibration (see calibrate); the table keeps the uncalibrated
    answers as raw_answer and raw_correct.
    """
    check_causal(model)
    template = template or task.template
    budget = _answer_budget(model, task, template)
    prompts = [fit_prompt(model, task, i, k, seed, template, instruction, budget)
               for i in task.query_indices(n_queries)]
    if not prompts:
        raise ExplorerError(f"no queries to ask: n_queries must be at least 1, got {n_queries}")
    expected = [p.query.output for p in prompts]
    extra = {}
    if task.classification:
        logliks, calibrated_probs = _classify(model, prompts, task.labels, instruction, batch_size, calibrated,
                                              cache)
        chosen = (logliks if calibrated_probs is None else calibrated_probs).argmax(1)
        answers = [task.labels[c] for c in chosen]
        probs = np.exp(logliks[np.arange(len(prompts)), chosen]).tolist()
        correct = [a == e for a, e in zip(answers, expected)]
        extra["last_label"] = [p.demos[-1].output if p.demos else "" for p in prompts]
        if calibrated:
            extra["raw_answer"] = [task.labels[c] for c in logliks.argmax(1)]
            extra["raw_correct"] = [a == e for a, e in zip(extra["raw_answer"], expected)]
    else:
        outs = generate(model, [p.text for p in prompts], template.separator, budget, batch_size)
        written = _writes(model, template.separator)
        answers = [_as_compared(o[0], e, written) for o, e in zip(outs, expected)]
        probs = [float(np.exp(sum(o[1]))) for o in outs]
        correct = [_same(model, a, e) for a, e in zip(answers, expected)]
    table = pd.DataFrame(dict(query=[p.query.input for p in prompts], expected=expected, answer=answers,
                              probability=probs, correct=correct, shots=[p.shots for p in prompts],
                              prompt=[p.text for p in prompts], **extra))
    return Evaluation(model.name, task.name, k, seed, float(np.mean(correct)), int(table.shots.min()), table,
                      calibrated and task.classification)


@dataclass
class Curve:
    """Accuracy against k: one row per (model, k, seed), and what did not fit."""

    task: Task
    table: pd.DataFrame  # model, task, k, seed, accuracy, shots_used, queries (+ majority_bias, recency_bias)
    notes: list[str] = field(default_factory=list)
    predictions: pd.DataFrame | None = None  # every answer, with model, k and seed


def accuracy_curve(models, task: Task, ks=(0, 1, 2, 4, 8), seeds=5, n_queries: int = 50,
                   template: Template | None = None, instruction: str = "", progress=None,
                   calibrated: bool = False) -> Curve:
    """Every model on the same prompts for each k and demonstration seed (``seeds``: a count or a list).

    A k beyond a model's context is cut to the shots that fit; ``notes`` says how many. Classification adds
    each run's label biases (see label_biases); ``calibrated`` classifies by contextual calibration.
    """
    for model in models:
        check_causal(model)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    ks = sorted(set(ks))
    if not models or not seeds or not ks:
        raise ExplorerError("choose at least one model, one k and one seed")
    over = [k for k in ks if k > task.max_shots]
    if over:
        raise ExplorerError(f"{task.name} offers at most {task.max_shots} demonstrations per query; "
                            f"drop k = {', '.join(map(str, over))}")
    rows, preds, notes = [], [], []
    for model in models:
        for k in ks:
            evals = [evaluate(model, task, k, seed, n_queries, template, instruction, calibrated=calibrated)
                     for seed in seeds]
            for ev in evals:
                rows.append(dict(model=ev.model, task=ev.task, k=k, seed=ev.seed, accuracy=ev.accuracy,
                                 shots_used=ev.shots_used, queries=len(ev.predictions)))
                if task.classification:
                    rows[-1] |= {f"{b}_bias": v for b, v in label_biases(ev.predictions).items()}
                preds.append(ev.predictions.assign(model=ev.model, k=k, seed=ev.seed))
                if progress:
                    progress(ev)
            fitted = min(ev.shots_used for ev in evals)
            if fitted < k:
                note = (f"{model.name}: k={k} does not fit its {model.max_len}-token context; "
                        f"only {fitted} shots fit (the earliest were dropped)")
                notes.append(note)
                warnings.warn(note, TruncationWarning)
    return Curve(task, pd.DataFrame(rows), notes, pd.concat(preds, ignore_index=True))


def shot_ladder(models, task: Task, template: Template | None = None, instruction: str = "",
                limit: int = 128) -> list[int]:
    """0, 1, 2, 4, 8, ... as far as every model's context holds the shots (judged on the first query)."""
    template = template or task.template
    budgets = [_answer_budget(m, task, template) for m in models]
    ks, k = [0], 1
    while k <= min(limit, task.max_shots):
        if any(fit_prompt(m, task, 0, k, 0, template, instruction, b).shots < k for m, b in zip(models, budgets)):
            break
        ks.append(k)
        k *= 2
    return ks


# -- figure -------------------------------------------------------------------------------------------
def _rgba(colour: str, alpha: float) -> str:
    r, g, b = hex_to_rgb(colour)
    return f"rgba({r},{g},{b},{alpha})"


def curve_figure(table: pd.DataFrame, chance: float | None = None, title: str | None = None) -> go.Figure:
    """A line per model (mean accuracy over seeds) and a band from the worst to the best seed."""
    fig = go.Figure()
    ks = sorted(table.k.unique())
    pos = {k: i for i, k in enumerate(ks)}  # evenly spaced shots: 0, 1, 2, 4, 8 ...
    for n, (model, part) in enumerate(table.groupby("model", sort=False)):
        stats = part.groupby("k").accuracy.agg(["mean", "min", "max"]).reindex(ks).dropna()
        x = [pos[k] for k in stats.index]
        colour = qualitative.Plotly[n % len(qualitative.Plotly)]
        fig.add_trace(go.Scatter(x=x + x[::-1], y=list(stats["max"] * 100) + list(stats["min"][::-1] * 100),
                                 mode="lines", fill="toself", fillcolor=_rgba(colour, 0.2), line=dict(width=0),
                                 hoverinfo="skip", showlegend=False, legendgroup=model))
        fig.add_trace(go.Scatter(x=x, y=stats["mean"] * 100, mode="lines+markers", name=model, legendgroup=model,
                                 line=dict(color=colour), customdata=stats[["min", "max"]].values * 100,
                                 hovertemplate=model + ": %{y:.1f} % (seeds %{customdata[0]:.0f}-%{customdata[1]:.0f})"
                                 "<extra></extra>"))
    if chance is not None:
        fig.add_hline(y=chance * 100, line_dash="dot", annotation_text="chance", line_color="grey")
    task = ", ".join(table.task.unique())
    fitted = table.groupby("k").shots_used.min() if "shots_used" in table else pd.Series(ks, index=ks)
    # a k that did not fit the context is labelled with the shots the prompts really held
    ticks = [str(k) if fitted[k] >= k else f"{k}<br>(only {fitted[k]} fit)" for k in ks]
    fig.update_layout(title=title or f"{task}: accuracy against the number of shots",
                      xaxis=dict(title="shots asked for (k)", tickvals=list(pos.values()), ticktext=ticks),
                      yaxis=dict(title="accuracy (%)", range=[0, 100]), template="plotly_white",
                      legend_title="model (band: range over seeds)")
    return fig


# -- the in-context-learning lab in numbers -------------------------------------------------------------
PRESETS = ("natural", "flipped", "random", "unrelated", "none")  # what the demonstrations' labels teach


def icl_report(model, task: Task | str = "sst2", k: int = 8, n_queries: int = 64, seed: int = 0,
               batch_size: int = 16) -> dict:
    """One model's in-context learning on a classification task, for a check or a bench: accuracy at k = 0 and
    at ``k`` with each label preset (natural = gold), and gold labels calibrated, with the label biases.

    A model that learns from its demonstrations scores gold > random > flipped (flipped below chance when it
    follows the prompt over its prior); calibration should shrink the majority-label bias.
    """
    task = get_task(task) if isinstance(task, str) else task
    gold = evaluate(model, task, k, seed, n_queries, batch_size=batch_size, calibrated=True)
    report = dict(model=model.name, task=task.name, k=k, queries=len(gold.predictions), seed=seed,
                  shots_used=gold.shots_used, chance=task.chance,
                  zero_shot=evaluate(model, task, 0, seed, n_queries, batch_size=batch_size).accuracy,
                  accuracy={"natural": float(gold.predictions.raw_correct.mean())}, calibrated=gold.accuracy,
                  biases=label_biases(gold.predictions, "raw_answer"), calibrated_biases=label_biases(gold.predictions))
    for preset in PRESETS[1:]:
        report["accuracy"][preset] = evaluate(model, relabel(task, preset), k, seed, n_queries,
                                              batch_size=batch_size).accuracy
    return report
