"""One function per way of using a pretrained model on a task, each returning a Result.

- features: the network frozen; ELMo's learned scalar mix of its layers feeds a small task model;
- finetune: every parameter trained with a one-layer head (GPT: input transformation + auxiliary LM loss);
- scratch: the same architecture, tokenizer and budget, randomly initialised: the denominator of every gain;
- zeroshot / fewshot: causal models answer a prompt, labels scored by likelihood;
- baselines: the majority class, each word's most frequent tag (token tasks), bag-of-words logistic regression.
"""
import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..analysis.probing import label_ids, majority_accuracy, standardiser, word_type_accuracy
from ..data.tasks import Example, Template
from ..errors import ExplorerError
from .data import Row, TaskData, subsample
from .network import (Classifier, TrainSettings, by_length, check_loss, classifier, fit, fresh_twin, save_classifier,
                      update_card)
from .results import MODES

TEMPLATE = Template()


@dataclass
class Result:
    model: str  # "" for baselines
    mode: str
    method: str  # how the mode read the model (e.g. "[CLS] + linear", "mix + linear", "bag of words")
    task: str
    n: int | None  # the requested training size (None: all)
    seed: int
    accuracy: float
    n_train: int  # training rows used (sentences for a token task; demonstrations when prompted)
    n_test: int  # rows scored (words for a token task)
    note: str = ""
    seconds: float = 0.0
    params: int = 0
    epochs: int | None = None
    steps: int | None = None
    lr: float | None = None
    lm_weight: float | None = None
    mix_weights: list[float] | None = None  # softmax layer weights (sum to 1), input layer first
    gamma: float | None = None
    truncated: int = 0  # inputs cut to the model's context (training and test)
    checkpoint: str | None = None

    def row(self) -> dict:
        return asdict(self)


def table(results: list[Result]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in results])


def check_usage(model, mode: str, level: str | None = None) -> None:
    """Refuse a mode the model's family (or the task's level) cannot serve, saying why."""
    if mode not in MODES:
        raise ExplorerError(f"unknown mode {mode!r}: use {', '.join(MODES)}")
    if mode in ("zeroshot", "fewshot"):
        if mode not in model.spec.usages:
            why = model.spec.not_prompted or f"{model.spec.display} is not used by prompting"
            raise ExplorerError(f"{model.name} cannot be used {mode}: {why}")
        if level == "token":
            raise ExplorerError(f"{mode} scores one label per text and this task tags every word: use features or "
                                "finetune for token tasks")
    elif mode in ("features", "finetune") and mode not in model.spec.usages:
        raise ExplorerError(f"{model.name} ({model.spec.display}) does not support {mode}")


def _classes(task: TaskData, rows: list[Row]) -> list[str]:
    """The training labels; one class only is refused (test labels unseen in training just count as wrong)."""
    return label_ids(task.labels(rows), [], "label")[0]


# -- feature-based -----------------------------------------------------------------------------------------

def features(model, task: TaskData, n: int | None, seed: int, settings: TrainSettings = TrainSettings()) -> Result:
    """Frozen network; gamma * sum_j softmax(s)_j * h_j (standardised layers) -> linear or 1-hidden-layer model,
    s and gamma learned with it on features computed once."""
    check_usage(model, "features")
    settings.check()
    rows, note = subsample(task.train, n, seed)
    classes = _classes(task, rows)
    torch.manual_seed(seed)
    clf = Classifier(model, classes, task.level, mix=True, pool="first" if task.level == "token" else "mean",
                     hidden=settings.hidden)
    start = time.perf_counter()
    x, y, truncated = _frozen(clf, rows)
    stats = [standardiser(x[:, layer]) for layer in range(x.shape[1])]
    clf.head.mean.copy_(torch.stack([m for m, _ in stats]))
    clf.head.std.copy_(torch.stack([s for _, s in stats]))
    steps = _fit_head(clf.head, x, clf.label_ids(y), settings, seed)
    seconds = time.perf_counter() - start
    acc, n_test, test_truncated = clf.accuracy(task.test)
    head = clf.head
    return Result(model.name, "features", f"mix + {'mlp' if settings.hidden else 'linear'}", task.name, n, seed, acc,
                  len(rows), n_test, _notes(task, note), seconds, params=sum(p.numel() for p in head.parameters()),
                  epochs=settings.head_epochs, steps=steps, lr=settings.head_lr, mix_weights=head.mix_weights(),
                  gamma=head.gamma.item(), truncated=truncated + test_truncated)


@torch.no_grad()
def _frozen(clf: Classifier, rows: list[Row], batch_size: int = 64):
    """Every layer's vectors for every training row (every word, for token tasks), float16 [outputs, L+1, d],
    computed once, in batches of similar length (the head is trained on them in shuffled order)."""
    clf.eval()
    chunks, labels, truncated = [], [], 0
    for batch_rows in by_length(rows, batch_size):
        batch = clf.encode(batch_rows)
        chunks.append(clf.reps(batch)[0].half())
        labels += batch.labels
        truncated += batch.truncated
    return torch.cat(chunks), labels, truncated


def _fit_head(head, x, y, settings: TrainSettings, seed: int, batch_size: int = 256) -> int:
    opt = torch.optim.AdamW(head.parameters(), lr=settings.head_lr, weight_decay=settings.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    step = 0
    head.train()
    for _ in range(settings.head_epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = nn.functional.cross_entropy(head(x[idx].float()), y[idx])
            step += 1
            check_loss(loss, step, settings.head_lr)
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()
    return step


# -- fine-tuning and its from-scratch twin -----------------------------------------------------------------

def finetune(model, task: TaskData, n: int | None, seed: int, settings: TrainSettings = TrainSettings(),
             save=None) -> Result:
    """Every parameter of a copy of ``model`` trained with a task head; ``save``: a folder for the fine-tuned
    checkpoint (explorer.load reads it; transfer.load_classifier scores with it)."""
    check_usage(model, "finetune")
    return _trained(model, copy.deepcopy(model), "finetune", task, n, seed, settings, save)


def scratch(model, task: TaskData, n: int | None, seed: int, settings: TrainSettings = TrainSettings(),
            save=None) -> Result:
    """``model``'s architecture and tokenizer, randomly initialised, trained as finetune trains."""
    torch.manual_seed(seed)
    return _trained(model, fresh_twin(model, f"{model.name}-scratch"), "scratch", task, n, seed, settings, save)


def _trained(pretrained, model, mode, task, n, seed, settings, save) -> Result:
    settings.check()
    rows, note = subsample(task.train, n, seed)
    torch.manual_seed(seed)
    clf = classifier(model, _classes(task, rows), task.level, settings.hidden)
    start = time.perf_counter()
    budget = fit(clf, rows, settings, seed)
    seconds = time.perf_counter() - start
    if save is not None:  # saved before scoring: saving rounds the weights to float16, and the score is the saved one's
        model.name = f"{pretrained.name}-{task.name}-{mode}"
        save_classifier(clf, save, dict(name=model.name, family=model.family, finetuned_from=pretrained.name,
                                        transfer=dict(task=task.name, mode=mode, n=n, seed=seed, **budget)))
    acc, n_test, truncated = clf.accuracy(task.test)
    if save is not None:
        update_card(save, score=acc, n_test=n_test)
    method = {"first": "[CLS]" if task.level == "sentence" else "first sub-token", "extract": "extract token",
              "mean": "mean of words"}[clf.pool]
    head, model_kind = clf.head, "mlp" if settings.hidden else "linear"
    return Result(pretrained.name, mode, f"{'mix' if clf.mix else 'top layer'} of {method} + {model_kind}", task.name,
                  n, seed, acc, len(rows), n_test, _notes(task, note), seconds,
                  params=model.n_params + sum(p.numel() for p in head.parameters()), epochs=budget["epochs"],
                  steps=budget["steps"], lr=budget["lr"], lm_weight=budget["lm_weight"], mix_weights=head.mix_weights(),
                  gamma=None if head.gamma is None else head.gamma.item(), truncated=budget["truncated"] + truncated,
                  checkpoint=None if save is None else str(save))


# -- prompting ---------------------------------------------------------------------------------------------

def zeroshot(model, task: TaskData, seed: int = 0, template: Template = TEMPLATE) -> Result:
    return _prompted(model, task, "zeroshot", 0, seed, template)


def fewshot(model, task: TaskData, k: int, seed: int, template: Template = TEMPLATE) -> Result:
    """k demonstrations drawn from train with ``seed``, the same for every test query."""
    if k < 1:
        raise ExplorerError("few-shot needs at least one demonstration (k >= 1); k = 0 is zero-shot")
    return _prompted(model, task, "fewshot", k, seed, template)


def _prompted(model, task, mode, k, seed, template) -> Result:
    from ..analysis.prompting import build_prompt, score_answers

    check_usage(model, mode, task.level)
    demos, note = subsample(task.train, k, seed)
    words = task.label_words
    labels = sorted(words)
    start = time.perf_counter()
    prompts = [build_prompt([Example(_text(r), words[r.label]) for r in demos], _text(r), template)
               for r in task.test]
    scores = score_answers(model, prompts, [[template.answer(words[lab]) for lab in labels]] * len(prompts))
    acc = float(np.mean([labels[int(s.argmax())] == r.label for s, r in zip(scores, task.test)]))
    return Result(model.name, mode, f"label likelihood: {', '.join(words[lab] for lab in labels)}", task.name, k,
                  seed, acc, len(demos), len(task.test), _notes(task, note), time.perf_counter() - start,
                  params=model.n_params)


def _text(row: Row) -> str:
    return row.text if row.text_b is None else f"{row.text} {row.text_b}"


# -- baselines ---------------------------------------------------------------------------------------------

def baselines(task: TaskData, n: int | None, seed: int) -> list[Result]:
    """Majority class; word type (token tasks) or bag-of-words logistic regression (sentence tasks)."""
    rows, note = subsample(task.train, n, seed)
    _classes(task, rows)
    train, test = task.labels(rows), task.labels(task.test)
    out = [("majority class", majority_accuracy(train, test))]
    if task.level == "token":
        words = lambda rs: [w for r in rs for w in r.text]
        out.append(("word type", word_type_accuracy(words(rows), train, words(task.test), test)))
    else:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        bow = make_pipeline(CountVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=1000))
        bow.fit([_text(r) for r in rows], train)
        out.append(("bag of words + logistic regression", bow.score([_text(r) for r in task.test], test)))
    return [Result("", "baselines", method, task.name, n, seed, float(acc), len(rows), len(test), _notes(task, note))
            for method, acc in out]


def _notes(task: TaskData, note: str) -> str:
    return "; ".join(x for x in (task.note, note) if x)
