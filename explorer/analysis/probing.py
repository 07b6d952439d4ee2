"""Layer-wise part-of-speech probes with the controls that make them mean something.

Per layer, a multinomial linear probe (torch; full-batch L-BFGS on small sets, mini-batch Adam on
large ones) predicts each word's tag from its cached vector. On large sets the layers' probes are trained together
(``LayerProbes``: one batched matmul, each probe still its own problem) and each stops early on the dev set. Beside it:
- a majority baseline and a word-type baseline (each word's most frequent training tag);
- Hewitt & Liang's (2019) control task: every word type gets a fixed random tag drawn from the
  training tag distribution; selectivity = accuracy - control accuracy. A probe that scores well
  on the control task is memorising word identity, not reading syntax off the representation;
- an optional one-hidden-layer MLP probe (more capacity, lower selectivity);
- an ELMo-style scalar mix (Peters et al. 2018, eq. 1): softmax-normalised layer weights and a
  scale gamma learned together with the probe, the weights showing which layers the task uses.
  Each layer is standardised first (transformer layers differ in scale by orders of magnitude).

Choosing without peeking: a dev set (given, or a seeded share of the training sentences) picks each layer's l2
(``l2_grid``) and the best layer(s) (``best_layer`` rows: every layer within ``tie_tolerance`` of the best dev
accuracy, so ties are reported as ties); the test set is scored once per layer, with a bootstrap 95 % interval over
test sentences (``accuracy_ci_low``/``_high``). ``best_layer_selectivity`` is the selectivity at the chosen layer(s);
the control task gets no best layer. ``below_word_type`` (1.0) marks a layer whose test accuracy is not above the
word-type baseline. What a layer adds beyond word identity, optionally:
- MDL online codelength (Voita & Titov 2020): ``codelength_bits`` and ``compression`` (uniform / online codelength);
- conditional probing (Hewitt et al. 2021): ``conditional_bits`` = H_V(y | B) - H_V(y | B, h_l) on test, B the
  word type (one-hot) or layer 0; ~0 when h_l is B itself;
- a random-init control model (``zoo.random_copy``): the same probes on the untrained architecture.

Results are tidy tables (model, layer, task, metric, value, n); figures, ``layer_table`` (one row per layer, with a
flag column) and ``summary`` (for config.json) are built from them.
Test tags never seen in training count as errors; the row ``unseen_test_tags`` says how many there were.
"""
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.conllu import TaggedSentence, tagset_name
from ..errors import ExplorerError
from ..families.base import Model
from .export import save_figures
from ..features import Features, extract_features, model_fingerprint
from ..paths import file_sha256

COLUMNS = ["model", "layer", "task", "metric", "value", "n"]


@dataclass
class ProbeSettings:
    """How probes are trained; saved with every run so it can be repeated exactly."""

    optimizer: str = "auto"  # "lbfgs" (full batch), "adam" (mini-batch), or auto: L-BFGS up to lbfgs_max_values
    lbfgs_max_values: int = 20_000_000  # rows x dim up to which full-batch L-BFGS is used
    max_iter: int = 50  # L-BFGS iterations (accuracy is flat beyond this on POS probes)
    epochs: int = 6  # Adam passes over the data (at most, where layer probes stop early on dev) ...
    min_steps: int = 150  # ... but at least this many updates on smaller data
    stop_tolerance: float = 0.01  # Adam layer probes stop once dev loss fell by less than this share since the last
    # look (every half epoch; 0: stop only when it rises)
    stack_max_values: int = 250_000_000  # rows x dim x layers trained together (a float16 copy: 2 bytes a value)
    batch_size: int = 4096
    lr: float = 0.1  # peak of a one-cycle schedule (within 0.2 points of scikit-learn on full EWT); for layer probes
    # stopped early, the constant rate after warm-up
    l2: float = 1e-4  # weight penalty on the probe's weights
    mlp_hidden: int = 0  # > 0: also train a one-hidden-layer MLP probe of this width
    mix: bool = True  # learn an ELMo-style scalar mix over all layers
    mix_max_rows: int = 50_000  # training rows the scalar mix sees (all layers are held in memory at once)
    seed: int = 0
    dev_fraction: float = 0.1  # share of training sentences held out to pick layer and l2 (when no dev set is given)
    l2_grid: tuple[float, ...] = ()  # l2 values tried per layer, picked on dev (empty: just l2); earlier wins ties
    tie_tolerance: float = 0.0  # layers whose dev accuracy is within this of the best are reported as tied
    bootstrap: int = 1000  # resamples of test sentences for each layer's 95 % interval (0: none)
    codelength: bool = False  # also the MDL online codelength per layer (Voita & Titov 2020)
    conditional: str = ""  # "word" or "layer0": also the V-information each layer adds to that baseline

    def check(self):
        if self.optimizer not in ("auto", "lbfgs", "adam"):
            raise ExplorerError(f"unknown optimizer {self.optimizer!r}: use auto, lbfgs or adam")
        if not 0 < self.dev_fraction < 1:
            raise ExplorerError("dev_fraction must be between 0 and 1 (exclusive)")
        if self.conditional not in ("", "word", "layer0"):
            raise ExplorerError(f"unknown conditional baseline {self.conditional!r}: use word or layer0")
        if min(self.tie_tolerance, self.bootstrap, self.stop_tolerance, *self.l2_grid) < 0:
            raise ExplorerError("tie_tolerance, bootstrap, stop_tolerance and l2_grid values cannot be negative")
        self.l2_grid = tuple(float(v) for v in self.l2_grid)  # JSON round trips give lists
        for name in ("max_iter", "epochs", "min_steps", "batch_size", "mix_max_rows", "stack_max_values"):
            if getattr(self, name) < 1:
                raise ExplorerError(f"probe setting {name} must be at least 1")
        return self


# -- probes ----------------------------------------------------------------------------------------

class Probe(nn.Module):
    """Standardise, then one linear map (or MLP) per head; heads share the input but not their weights."""

    def __init__(self, mean, std, n_classes: list[int], hidden: int = 0):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.n_classes = n_classes
        d = mean.shape[-1]
        if hidden:
            self.heads = nn.ModuleList(nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, c))
                                       for c in n_classes)
        else:  # linear heads are independent columns of one matrix: one matmul trains them all
            self.heads = nn.ModuleList([nn.Linear(d, sum(n_classes))])
            nn.init.zeros_(self.heads[0].weight)

    def standardise(self, x):
        return (x.float() - self.mean) / self.std

    def scores(self, z) -> list[torch.Tensor]:
        """Logits per head from standardised inputs (training standardises the data once)."""
        if len(self.heads) == 1 and len(self.n_classes) > 1:
            return list(self.heads[0](z).split(self.n_classes, dim=-1))
        return [h(z) for h in self.heads]

    def forward(self, x) -> list[torch.Tensor]:
        return self.scores(self.standardise(x))

    def penalty(self):
        return sum((m.weight ** 2).sum() for m in self.modules() if isinstance(m, nn.Linear))

    @torch.no_grad()
    def predict(self, x, batch_size: int = 8192) -> list[torch.Tensor]:
        outs = [self(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return [torch.cat([o[h] for o in outs]).argmax(-1) for h in range(len(self.n_classes))]


class ScalarMixProbe(nn.Module):
    """gamma * sum_j softmax(s)_j * standardised layer j, then a linear probe (ELMo eq. 1)."""

    def __init__(self, mean, std, n_classes: int):
        super().__init__()
        self.register_buffer("mean", mean)  # [L, d]
        self.register_buffer("std", std)
        self.scalars = nn.Parameter(torch.zeros(mean.shape[0]))
        self.gamma = nn.Parameter(torch.ones(()))
        self.linear = nn.Linear(mean.shape[1], n_classes)
        self.n_classes = [n_classes]

    standardise = Probe.standardise
    predict = Probe.predict

    def scores(self, z) -> list[torch.Tensor]:  # z: [B, L, d]
        return [self.linear(self.gamma * torch.einsum("l,bld->bd", self.scalars.softmax(0), z))]

    def forward(self, x) -> list[torch.Tensor]:
        return self.scores(self.standardise(x))

    def penalty(self):
        return (self.linear.weight ** 2).sum()

    def weights(self) -> list[float]:
        return self.scalars.detach().softmax(0).tolist()


def standardiser(x: torch.Tensor):
    """Mean and std over rows; constant dimensions get std 1 so they do not blow up."""
    x = x.float()
    mean = x.mean(0)  # two passes: a third of torch.std_mean's time on one thread, the same to float precision
    std = ((x - mean).square_().sum(0) / max(len(x) - 1, 1)).sqrt_()  # one row (an MDL block): std 0
    return mean, torch.where(std > 1e-6, std, torch.ones_like(std))


def fit_probe(x: torch.Tensor, targets: list[torch.Tensor], n_classes: list[int], settings: ProbeSettings,
              hidden: int = 0) -> Probe:
    """A probe with one head per target (e.g. real tags and control tags), trained to convergence."""
    torch.manual_seed(settings.seed)
    probe = Probe(*standardiser(x), n_classes, hidden)
    _train(probe, x, targets, settings)
    return probe.eval()


def _train(probe, x, targets, settings):
    (_lbfgs if full_batch(settings, x.numel()) else _adam)(probe, x, targets, settings)


def full_batch(settings: ProbeSettings, values: int) -> bool:
    """Whether a probe on ``values`` (rows x dim) training numbers is trained by full-batch L-BFGS (else Adam)."""
    return settings.optimizer == "lbfgs" or (settings.optimizer == "auto" and values <= settings.lbfgs_max_values)


def _loss(probe, z, targets, l2):
    outs = probe.scores(z)
    return sum(nn.functional.cross_entropy(o, t) for o, t in zip(outs, targets)) + l2 * probe.penalty()


def _lbfgs(probe, x, targets, settings):
    z = probe.standardise(x)
    opt = torch.optim.LBFGS(probe.parameters(), lr=1, max_iter=settings.max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-10)

    def closure():
        opt.zero_grad()
        loss = _loss(probe, z, targets, settings.l2)
        loss.backward()
        return loss

    opt.step(closure)


def _adam(probe, x, targets, settings):
    """Mini-batch Adam with a one-cycle learning rate (warm-up, then cosine decay); x may be float16."""
    opt = torch.optim.Adam(probe.parameters(), lr=settings.lr)
    per_epoch = math.ceil(len(x) / settings.batch_size)
    epochs = max(settings.epochs, math.ceil(settings.min_steps / per_epoch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=epochs * per_epoch,
                                                pct_start=0.1)
    gen = torch.Generator().manual_seed(settings.seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), settings.batch_size):
            idx = order[i:i + settings.batch_size]
            opt.zero_grad()
            _loss(probe, probe.standardise(x[idx]), [t[idx] for t in targets], settings.l2).backward()
            opt.step()
            sched.step()


class LayerProbes(nn.Module):
    """The linear probes of several layers, trained at once: layer g's probes (one per l2 value, each with one head
    per target) are the columns of ``weight[g]`` ([layers, d, l2 values x classes]), so one batched matmul scores a
    mini-batch for all of them. The loss is the sum of each probe's own loss and Adam is elementwise, so every probe
    follows the path it would follow alone: a layer's result does not depend on the layers trained beside it."""

    def __init__(self, d: int, n_layers: int, n_classes: list[int], l2s, seed: int = 0):
        super().__init__()
        self.n_classes, self.n_l2 = n_classes, len(l2s)
        torch.manual_seed(seed)
        bias = nn.Linear(d, sum(n_classes)).bias.detach()  # Probe's start: zero weights, nn.Linear's bias
        self.weight = nn.Parameter(torch.zeros(n_layers, d, self.n_l2 * sum(n_classes)))
        self.bias = nn.Parameter(bias.repeat(n_layers, self.n_l2))
        self.register_buffer("l2", torch.tensor(l2s, dtype=torch.float32).repeat_interleave(sum(n_classes)))

    def scores(self, z, weight=None, bias=None) -> list[torch.Tensor]:
        """Logits per head, [layers, rows, l2 values, classes], of standardised rows z [rows, layers, d]."""
        weight, bias = (self.weight, self.bias) if weight is None else (weight, bias)
        out = torch.baddbmm(bias[:, None], z.float().transpose(0, 1), weight)
        return list(out.unflatten(-1, (self.n_l2, -1)).split(self.n_classes, -1))

    def loss(self, z, targets):
        """The sum over layers and l2 values of each probe's loss: mean cross-entropy of every head, plus penalty."""
        ce = 0
        for o, t in zip(self.scores(z), targets):
            ce = ce + nn.functional.cross_entropy(o.reshape(-1, o.shape[-1]), t[None, :, None].expand(
                o.shape[0], -1, o.shape[2]).reshape(-1), reduction="sum") / len(t)
        return ce + (self.l2 * (self.weight ** 2).sum(1)).sum()

    @torch.no_grad()
    def dev_loss(self, z, y, weight, bias, batch_size: int = 8192) -> torch.Tensor:
        """Each probe's mean cross-entropy of its first head on rows z with labels y (-1: not scored), [layers, l2]."""
        keep = y >= 0
        z, y = z[keep], y[keep]
        total = torch.zeros(weight.shape[0], self.n_l2)
        for i in range(0, len(y), batch_size):
            logp = self.scores(z[i:i + batch_size], weight, bias)[0].log_softmax(-1)
            pick = y[i:i + batch_size][None, :, None, None].expand(logp.shape[0], -1, logp.shape[2], 1)
            total -= logp.gather(-1, pick).squeeze(-1).sum(1)
        return total / max(len(y), 1)

    @torch.no_grad()
    def predict(self, z, batch_size: int = 8192) -> list[torch.Tensor]:
        """Per head, every probe's predicted class of every row: [rows, layers, l2 values]."""
        outs = [[o.argmax(-1).transpose(0, 1) for o in self.scores(z[i:i + batch_size])]
                for i in range(0, len(z), batch_size)]
        return [torch.cat([o[h] for o in outs]) for h in range(len(self.n_classes))]


def fit_layer_probes(z: torch.Tensor, targets: list[torch.Tensor], n_classes: list[int], settings: ProbeSettings,
                     dev: tuple) -> LayerProbes:
    """Linear probes of every layer of z ([rows, layers, d], each layer standardised; float16 is fine) and every l2
    of settings.l2_grid (else settings.l2), with one head per target, trained together by mini-batch Adam and
    stopped early on ``dev`` = (standardised dev rows, their labels of the first target; -1: not scored).

    The learning rate warms up, then stays at settings.lr; each probe is read through an exponential moving average
    of its weights (over about half an epoch), which does the work of a decaying rate without fixing the number of
    steps in advance. Every half epoch each average's dev cross-entropy is measured; a probe stops once it fell by less
    than settings.stop_tolerance (a share) since the last look, and keeps its best average. A probe's heads stop
    together (the control task trains as long as the real one). Training ends when every probe has stopped, or after
    the Adam budget of settings.epochs (at least settings.min_steps updates); ``epochs_run`` says how far it went."""
    grid = settings.l2_grid or (settings.l2,)
    probe = LayerProbes(z.shape[2], z.shape[1], n_classes, grid, settings.seed)
    params = [probe.weight, probe.bias]
    per_epoch = math.ceil(len(z) / settings.batch_size)
    total = max(settings.epochs, math.ceil(settings.min_steps / per_epoch)) * per_epoch
    every = max(math.ceil(per_epoch / 2), math.ceil(total / 12))  # steps between looks at dev
    warm, decay = max(1, every // 5), 1 - 1 / every
    opt = torch.optim.Adam(params, lr=settings.lr)
    average = [p.detach().clone() for p in params]
    best = [a.clone() for a in average]
    best_loss = last = torch.full((z.shape[1], len(grid)), math.inf)
    live = torch.ones_like(best_loss, dtype=torch.bool)
    gen, step = torch.Generator().manual_seed(settings.seed), 0
    while step < total and live.any():
        order = torch.randperm(len(z), generator=gen)
        for i in range(0, len(z), settings.batch_size):
            idx = order[i:i + settings.batch_size]
            for group in opt.param_groups:
                group["lr"] = settings.lr * min(1.0, (step + 1) / warm)
            opt.zero_grad()
            probe.loss(z.index_select(0, idx), [t[idx] for t in targets]).backward()
            opt.step()
            step += 1
            with torch.no_grad():
                for a, p in zip(average, params):
                    a.lerp_(p, 1 - min(decay, (1 + step) / (10 + step)))
            if step % every and step < total:
                continue
            loss = probe.dev_loss(*dev, *average)
            better = live & ~(loss >= best_loss)  # a NaN loss (no dev label scored) keeps the first average
            columns = better.repeat_interleave(sum(n_classes), 1)  # [layers, l2 values x classes]
            best = [torch.where(columns[:, None], average[0], best[0]), torch.where(columns, average[1], best[1])]
            best_loss = torch.where(better, loss, best_loss)
            live, last = live & (loss < last * (1 - settings.stop_tolerance)), loss
            if not live.any():
                break
    with torch.no_grad():
        probe.weight.copy_(best[0])
        probe.bias.copy_(best[1])
    probe.epochs_run = step / per_epoch
    return probe.eval()


def fit_scalar_mix(x: torch.Tensor, y: torch.Tensor, n_classes: int, settings: ProbeSettings) -> ScalarMixProbe:
    """x: [rows, L, d] (float16 is fine: mini-batches are converted as they are used)."""
    torch.manual_seed(settings.seed)
    stats = [standardiser(x[:, layer]) for layer in range(x.shape[1])]  # a layer at a time: bounded memory
    mean, std = torch.stack([m for m, _ in stats]), torch.stack([s for _, s in stats])
    # Standardise once (kept in float16) instead of at every step; the probe learns on the standardised
    # copy with identity statistics, then takes the real ones for new data.
    z = torch.empty_like(x, dtype=torch.float16)
    for layer in range(x.shape[1]):
        z[:, layer] = ((x[:, layer].float() - mean[layer]) / std[layer]).half()
    probe = ScalarMixProbe(torch.zeros_like(mean), torch.ones_like(std), n_classes)
    _train(probe, z, [y], settings)
    probe.mean.copy_(mean)
    probe.std.copy_(std)
    return probe.eval()


# -- what a layer adds: codelength, conditional information, intervals -----------------------------

class ConditionalProbe(nn.Module):
    """Logits = E[id] + W standardise(h) + b on rows [id, h...]: E is a one-hot word-type baseline (one row per
    training type, one for unseen words) and h any dense vectors, so one class probes [B], [B; h_l] or [h_0; h_l]."""

    def __init__(self, mean, std, n_ids: int, n_classes: int):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.embed = nn.Embedding(n_ids, n_classes)
        self.linear = nn.Linear(mean.shape[-1], n_classes)
        nn.init.zeros_(self.embed.weight)
        nn.init.zeros_(self.linear.weight)
        self.n_classes = [n_classes]

    forward = Probe.forward
    predict = Probe.predict

    def standardise(self, x):
        return torch.cat([x[:, :1].float(), (x[:, 1:].float() - self.mean) / self.std], 1)

    def scores(self, z) -> list[torch.Tensor]:
        return [self.embed(z[:, 0].long()) + self.linear(z[:, 1:])]

    def penalty(self):
        return (self.embed.weight ** 2).sum() + (self.linear.weight ** 2).sum()


@torch.no_grad()
def cross_entropy_bits(probe, x, y, batch_size: int = 8192) -> float:
    """Mean -log2 p(y | x) under the probe's first head: the V-entropy estimate on held-out rows."""
    total = sum(nn.functional.cross_entropy(probe(x[i:i + batch_size])[0], y[i:i + batch_size], reduction="sum",
                                            ignore_index=-1) for i in range(0, len(y), batch_size))
    return float(total) / max(int((y >= 0).sum()), 1) / math.log(2)  # -1: a label training never had (dev only)


MDL_FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)
MDL_L2 = (1e-1, 1e-2, 1e-3, 1e-4)  # probes on a few hundred rows need far more penalty than on the whole set


def online_codelength(x, y, n_classes: int, settings: ProbeSettings, fractions=MDL_FRACTIONS) -> dict:
    """Voita & Titov's (2020) online code: the first block is sent with a uniform code, each later block with a
    probe trained on every block before it. compression = uniform codelength / online codelength (1: nothing
    learnable; higher: the labels are easier to extract from x).

    The l2 (settings.l2_grid, else MDL_L2) is chosen prequentially: each block is coded with the l2 that coded the
    block before it best (the strongest for the first), a choice the receiver can repeat, so the code stays valid."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(settings.seed))
    x, y = x[order], y[order]
    ends = sorted({max(1, round(f * len(y))) for f in fractions} | {len(y)})
    grid = sorted(settings.l2_grid or MDL_L2, reverse=True)
    uniform, bits, pick = len(y) * math.log2(n_classes), ends[0] * math.log2(n_classes), 0
    for start, end in zip(ends, ends[1:]):
        costs = [cross_entropy_bits(fit_probe(x[:start], [y[:start]], [n_classes], replace(settings, l2=l2)),
                                    x[start:end], y[start:end]) * (end - start) for l2 in grid]
        bits, pick = bits + costs[pick], int(np.argmin(costs))
    return dict(codelength_bits=bits, uniform_codelength_bits=uniform, compression=uniform / bits)


def conditional_inputs(base: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
    """Rows [id, dense...] for ConditionalProbe: base is word ids (a one-hot word type; integer tensor) or dense
    vectors (e.g. layer 0, then every row has id 0); x, if given, is the probed layer put beside it."""
    ids, dense = (base, []) if not base.is_floating_point() else (torch.zeros(len(base), dtype=torch.long), [base])
    dense = [d.float() for d in dense + ([x] if x is not None else [])]
    return torch.cat([ids[:, None].float()] + (dense or [torch.zeros(len(ids), 1)]), 1)  # no dense: a constant


def residualise(base_train, x_train, *others):
    """x minus its least-squares prediction from the baseline B (fitted on train), for train and each (base, x) of
    ``others``. [B; x - x_B] spans the same linear probes as [B; x], but a layer that only repeats B now adds exactly
    nothing (not a second copy of B that halves its L2 penalty). Columns B explains all but fully become 0."""
    x_train = x_train.float()
    if base_train.is_floating_point():
        design = lambda b: torch.cat([b.float(), torch.ones(len(b), 1)], 1)  # noqa: E731
        beta = torch.linalg.lstsq(design(base_train), x_train).solution
        fit = lambda b: design(b) @ beta  # noqa: E731
    else:  # one-hot word types: the prediction is the type's mean vector (unseen words: the overall mean)
        n = int(max(b.max() for b in [base_train] + [b for b, _ in others])) + 1
        sums = torch.zeros(n, x_train.shape[1]).index_add_(0, base_train, x_train)
        counts = torch.bincount(base_train, minlength=n)[:, None]
        means = torch.where(counts > 0, sums / counts.clamp(min=1), x_train.mean(0))
        fit = lambda b: means[b]  # noqa: E731
    r_train = x_train - fit(base_train)
    kept = r_train.std(0) > 1e-3 * x_train.std(0).clamp(min=1e-12)
    return [r_train * kept] + [(x.float() - fit(b)) * kept for b, x in others]


def v_entropy_bits(train, test, n_classes: int, settings: ProbeSettings, dev=None) -> float:
    """H_V(y | inputs) in bits per test token: the test cross-entropy of a ConditionalProbe trained on train.
    train, test, dev: (inputs, labels); with dev, the l2 of settings.l2_grid with the lowest dev cross-entropy."""
    n_ids = int(max(part[0][:, 0].max() for part in (train, test, dev) if part is not None)) + 1
    fits = []
    for l2 in settings.l2_grid if dev is not None and settings.l2_grid else (settings.l2,):
        torch.manual_seed(settings.seed)
        probe = ConditionalProbe(*standardiser(train[0][:, 1:]), n_ids, n_classes)
        _train(probe, train[0], [train[1]], replace(settings, l2=l2))
        fits.append((cross_entropy_bits(probe.eval(), *dev) if dev is not None else 0.0, probe))
    return cross_entropy_bits(min(fits, key=lambda f: f[0])[1], *test)


def conditional_information(base: tuple, x: tuple, y: tuple, n_classes: int, settings: ProbeSettings,
                            baseline_bits: float | None = None) -> dict:
    """Hewitt et al.'s (2021) conditional probe: I_V(h -> y | B) = H_V(y | B) - H_V(y | B, h), in bits per token,
    both V-entropies on test. base, x, y: (train, test) or (train, test, dev), dev choosing each probe's l2;
    ``baseline_bits``: H_V(y | B) if already known (it is the same for every layer).
    About 0 when h adds nothing to B (h = B), > 0 as far as h carries label information B lacks."""
    def v_entropy(inputs):
        parts = list(zip(inputs, y))
        return v_entropy_bits(parts[0], parts[1], n_classes, settings, *parts[2:])

    if baseline_bits is None:
        baseline_bits = v_entropy([conditional_inputs(b) for b in base])
    residual = residualise(base[0], x[0], *zip(base[1:], x[1:]))
    both = v_entropy([conditional_inputs(b, r) for b, r in zip(base, residual)])
    return dict(baseline_bits=baseline_bits, bits=both, information_bits=baseline_bits - both)


def word_ids(train_words: list[str], *others: list[str], min_count: int = 2) -> list[torch.Tensor]:
    """Word-type ids for the one-hot baseline: types seen at least ``min_count`` times in training 0..V-1, all
    others V. Training singletons share the unknown id so that it is trained on words like the test's unseen ones
    (and a layer's residual from its word-type mean looks alike for them in training and test)."""
    counts = Counter(train_words)
    index = {w: i for i, w in enumerate(w for w in dict.fromkeys(train_words) if counts[w] >= min_count)}
    return [torch.tensor([index.get(w, len(index)) for w in words]) for words in (train_words, *others)]


def bootstrap_interval(correct, groups, n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of accuracy, resampling whole sentences (``groups``: each row's sentence), since the
    words of one sentence are not independent draws. Same seed, same resamples: layers are compared paired."""
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    hits, sizes = np.bincount(g, weights=np.asarray(correct, dtype=float)), np.bincount(g)
    idx = np.random.default_rng(seed).integers(len(sizes), size=(n, len(sizes)))
    accs = hits[idx].sum(1) / sizes[idx].sum(1)
    return tuple(float(q) for q in np.quantile(accs, [(1 - level) / 2, (1 + level) / 2]))


def tied_best(scores: dict, tolerance: float = 0.0) -> list:
    """Every key whose score is within ``tolerance`` of the best: layers a dev set cannot tell apart are ties."""
    top = max(scores.values())
    return [k for k, v in scores.items() if v >= top - tolerance - 1e-12]


# -- controls and baselines ------------------------------------------------------------------------

def control_tags(train_words: list[str], train_tags: list[str], test_words: list[str], seed: int = 0):
    """Hewitt & Liang's control task: each word type's fixed random tag, drawn from the training tag
    distribution. The draw hashes (seed, word), so a word's control tag does not depend on which
    other words the data holds (types first seen in the test set get one the same way)."""
    counts = Counter(train_tags)
    tags = sorted(counts)
    cumulative = np.cumsum([counts[t] for t in tags]) / len(train_tags)

    def tag_of(word: str) -> str:
        u = int.from_bytes(hashlib.blake2b(f"{seed}\t{word}".encode(), digest_size=8).digest(), "big") / 2 ** 64
        return tags[min(int(np.searchsorted(cumulative, u, side="right")), len(tags) - 1)]

    draw = {w: tag_of(w) for w in set(train_words) | set(test_words)}
    return [draw[w] for w in train_words], [draw[w] for w in test_words]


def majority_accuracy(train_tags, test_tags) -> float:
    top = Counter(train_tags).most_common(1)[0][0]
    return float(np.mean([t == top for t in test_tags]))


def word_type_accuracy(train_words, train_tags, test_words, test_tags) -> float:
    """Each word's most frequent training tag; unseen words get the overall most frequent tag."""
    by_word: dict[str, Counter] = {}
    for w, t in zip(train_words, train_tags):
        by_word.setdefault(w, Counter())[t] += 1
    top = Counter(train_tags).most_common(1)[0][0]
    guess = {w: c.most_common(1)[0][0] for w, c in by_word.items()}
    return float(np.mean([guess.get(w, top) == t for w, t in zip(test_words, test_tags)]))


# -- the POS experiment ----------------------------------------------------------------------------

@dataclass
class TaggedData:
    """Flattened words and tags of a POS set, and their cached features (missing rows dropped)."""

    words: list[str]
    tags: list[str]
    features: Features
    rows: np.ndarray

    def sentences(self) -> np.ndarray:
        """Each row's sentence index (to split and resample by sentence, never inside one)."""
        return np.searchsorted(self.features.offsets, self.rows, side="right") - 1

    def take(self, keep: np.ndarray) -> "TaggedData":
        return TaggedData([self.words[i] for i in keep], [self.tags[i] for i in keep], self.features, self.rows[keep])


def tagged_data(model: Model, sentences: list[TaggedSentence], tagset: str, pool: str, cache_dir=None,
                progress=False) -> TaggedData:
    if not sentences:
        raise ExplorerError("the POS set is empty")
    for s in sentences:
        if any(t in (None, "_", "") for t in s.tags(tagset)):
            raise ExplorerError(f"sentence {s.sent_id} (line {s.line}) has words without a {tagset.upper()} tag: "
                                f"choose a tag set the file has")
    feats = extract_features(model, [s.words for s in sentences], pool=pool, cache_dir=cache_dir,
                             progress=progress)  # batched by token budget
    rows = np.flatnonzero(~feats.missing)
    words = [w for s in sentences for w in s.words]
    tags = [t for s in sentences for t in s.tags(tagset)]
    return TaggedData([words[i] for i in rows], [tags[i] for i in rows], feats, rows)


UNSEEN = -1  # the label of a test tag never seen in training: no prediction equals it, so it counts as an error


def dev_split(data: TaggedData, fraction: float, seed: int = 0) -> tuple[TaggedData, TaggedData]:
    """(train, dev): a seeded share of the training sentences held out to choose layer and l2, so the test set
    is never looked at to choose. Sentences holding a tag that would otherwise leave training stay in it."""
    sent = data.sentences()
    ids = np.unique(sent)
    held = np.random.default_rng(seed).choice(ids, size=max(1, round(fraction * len(ids))), replace=False)
    in_dev = np.isin(sent, held)
    lost = set(data.tags) - {t for t, d in zip(data.tags, in_dev) if not d}
    in_dev &= ~np.isin(sent, [s for s, t in zip(sent, data.tags) if t in lost])
    return data.take(np.flatnonzero(~in_dev)), data.take(np.flatnonzero(in_dev))


def label_ids(train_tags: list[str], test_tags: list[str], what: str = "tag"):
    """Integer labels; fails clearly on a one-class set. Test labels never seen in training get UNSEEN
    (a real test set often holds a rare tag its training slice lacks; refusing it would refuse the set)."""
    classes = sorted(set(train_tags))
    if len(classes) < 2:
        raise ExplorerError(f"the training set has a single {what} ({classes[0] if classes else 'none'}): "
                            "a probe needs at least two classes to learn anything")
    index = {c: i for i, c in enumerate(classes)}
    return classes, torch.tensor([index[t] for t in train_tags]), known_ids(classes, test_tags)


def known_ids(classes: list[str], tags: list[str]) -> torch.Tensor:
    """Label ids where a label unseen in training is -1, which no prediction matches: it counts as an error
    (dev tags a held-out slice alone has; control tags drawn for test words only)."""
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index.get(t, UNSEEN) for t in tags], dtype=torch.long)


def pos_probe(model: Model, train: list[TaggedSentence], test: list[TaggedSentence], *, tagset: str = "upos",
              pool: str = "first", settings: ProbeSettings | None = None, cache_dir=None,
              progress: bool = False, on_step=None, dev: list[TaggedSentence] | None = None) -> pd.DataFrame:
    """Per-layer POS probing of one model: the tidy result table (see the module docstring for metrics).

    ``dev`` (else a seeded ``settings.dev_fraction`` of the training sentences) chooses each layer's l2 and the
    best layer(s); the test set is scored once per layer with what dev chose, and never used to choose.
    ``on_step(done, total, what)`` hears of each stage (word vectors, each layer's probes, the mix); it may raise
    to stop the work (the app's progress bar does when the page is rerun or closed).
    """
    settings = (settings or ProbeSettings()).check()
    step = stepper(on_step, model.n_layers + 2 + settings.mix)  # vectors, each layer (0..L), the mix
    step("word vectors of every layer")
    tr = tagged_data(model, train, tagset, pool, cache_dir, progress)
    te = tagged_data(model, test, tagset, pool, cache_dir, progress)
    tr, dv = (tr, tagged_data(model, dev, tagset, pool, cache_dir, progress)) if dev else \
        dev_split(tr, settings.dev_fraction, settings.seed)
    classes, y_train, y_test = label_ids(tr.tags, te.tags)
    if not dv.tags:
        raise ExplorerError("too few training sentences to hold out a dev set for choosing the layer: give a dev set")
    c_train, c_test = control_tags(tr.words, tr.tags, te.words, settings.seed)
    c_classes, yc_train, _ = label_ids(c_train, [], "control tag")
    y_dev, yc_test = known_ids(classes, dv.tags), known_ids(c_classes, c_test)
    labels = dict(train=[y_train, yc_train], dev=y_dev, test=[y_test, yc_test], n=[len(classes), len(c_classes)],
                  groups=te.sentences())
    task, n = f"pos/{tagset_name(test, tagset)}", len(te.tags)
    word_type = word_type_accuracy(tr.words, tr.tags, te.words, te.tags)
    rows = [(None, "unseen_test_tags", int((y_test == UNSEEN).sum())),  # scored as errors everywhere
            (None, "majority_baseline", majority_accuracy(tr.tags, te.tags)), (None, "word_type_baseline", word_type)]
    measures = _Measures(dict(train=tr, test=te, dev=dv), dict(train=y_train, test=y_test, dev=y_dev), len(classes),
                         settings)
    n_layers, values = tr.features.n_layers, len(tr.rows) * tr.features.dim
    stacked = not full_batch(settings, values)  # Adam: the linear probes of several layers trained at once
    together, fits = max(1, settings.stack_max_values // max(values, 1)), {}
    for layer in range(n_layers):
        step(f"probes on layer {layer} of {n_layers - 1}")
        if stacked and layer not in fits:  # this layer and the next ones: one batched fit
            fits = _stacked_predictions(range(layer, min(layer + together, n_layers)),
                                        dict(train=tr, dev=dv, test=te), labels, settings)
        x = None if stacked and not (settings.mlp_hidden or measures.wanted) else \
            {part: d.features.layer(layer, d.rows) for part, d in (("train", tr), ("dev", dv), ("test", te))}
        rows += _layer_rows(layer, *(fits[layer] if stacked else _predictions(x, labels, settings)), labels,
                            settings, "")
        if settings.mlp_hidden:
            rows += _layer_rows(layer, *_predictions(x, labels, settings, settings.mlp_hidden), labels, settings,
                                "mlp_")
        rows += measures.layer_rows(layer, x)
    for prefix in ("", "mlp_") if settings.mlp_hidden else ("",):
        rows += selection_rows(rows, word_type, settings.tie_tolerance, prefix)
    rows += measures.rows
    if settings.mix:
        step("the scalar mix")
        rows += _mix_rows(tr, te, y_train, y_test, len(classes), settings)
    step("done")
    return table([dict(model=model.name, layer=l, task=task, metric=m, value=v, n=n) for l, m, v in rows])


def stepper(on_step, total: int):
    """A step counter calling ``on_step(done, total, what)`` (nothing without a listener)."""
    done = iter(range(total + 1))
    return (lambda what: on_step(next(done), total, what)) if on_step else (lambda what: None)


def _predictions(x: dict, labels: dict, settings: ProbeSettings, hidden: int = 0):
    """One probe per l2 on a layer's training rows: (dev predictions of each, test predictions of each per head)."""
    fits = [fit_probe(x["train"], labels["train"], labels["n"], replace(settings, l2=l2), hidden)
            for l2 in settings.l2_grid or (settings.l2,)]
    return [p.predict(x["dev"])[0] for p in fits], [p.predict(x["test"]) for p in fits]


def _stacked_predictions(layers, parts: dict, labels: dict, settings: ProbeSettings) -> dict:
    """The linear probes of several layers trained together (fit_layer_probes), early-stopped on dev:
    {layer: (dev predictions per l2, test predictions per l2 per head)} as _predictions gives for one layer."""
    layers = list(layers)
    z = {part: torch.empty(len(d.rows), len(layers), d.features.dim, dtype=torch.float16) for part, d in parts.items()}
    for j, layer in enumerate(layers):  # standardised once, with each layer's training statistics
        train = parts["train"].features.layer(layer, parts["train"].rows)
        mean, std = standardiser(train)
        for part, d in parts.items():
            z[part][:, j] = ((train if part == "train" else d.features.layer(layer, d.rows)) - mean).div_(std).half()
    probe = fit_layer_probes(z["train"], labels["train"], labels["n"], settings, (z["dev"], labels["dev"]))
    dev, test = probe.predict(z["dev"])[0], probe.predict(z["test"])
    return {layer: ([dev[:, j, k] for k in range(probe.n_l2)], [[t[:, j, k] for t in test] for k in range(probe.n_l2)])
            for j, layer in enumerate(layers)}


def _layer_rows(layer, dev_pred: list, test_pred: list, labels: dict, settings: ProbeSettings, prefix: str):
    """Dev picks the l2 (dev_pred: each l2's dev predictions), then test is scored once, with an interval."""
    grid = settings.l2_grid or (settings.l2,)
    dev = [float((p == labels["dev"]).float().mean()) for p in dev_pred]
    pick = int(np.argmax(dev))  # the first of equal ones: the grid's order is the preference
    correct = [(p == y).numpy() for p, y in zip(test_pred[pick], labels["test"])]
    acc, control = (float(c.mean()) for c in correct)
    rows = [(layer, f"{prefix}accuracy", acc), (layer, f"{prefix}control_accuracy", control),
            (layer, f"{prefix}selectivity", acc - control), (layer, f"{prefix}dev_accuracy", dev[pick])]
    if settings.bootstrap:
        low, high = bootstrap_interval(correct[0], labels["groups"], settings.bootstrap, settings.seed)
        rows += [(layer, f"{prefix}accuracy_ci_low", low), (layer, f"{prefix}accuracy_ci_high", high)]
    return rows + ([(layer, f"{prefix}l2", grid[pick])] if len(grid) > 1 else [])


def selection_rows(rows, word_type: float, tolerance: float = 0.0, prefix: str = ""):
    """The best layer(s) by dev accuracy (one row each: ties are all reported), selectivity at each, and per layer
    whether test accuracy fails to beat the word-type baseline (1.0: the layer adds nothing a lookup table lacks)."""
    per = {m: {l: v for l, mm, v in rows if mm == f"{prefix}{m}"} for m in ("dev_accuracy", "accuracy", "selectivity")}
    best = tied_best(per["dev_accuracy"], tolerance)
    return ([(l, f"{prefix}best_layer", per["dev_accuracy"][l]) for l in best]
            + [(l, f"{prefix}best_layer_selectivity", per["selectivity"][l]) for l in best]
            + [(l, f"{prefix}below_word_type", float(acc <= word_type)) for l, acc in per["accuracy"].items()])


class _Measures:
    """The optional information measures of each layer (settings.codelength, settings.conditional); the baseline's
    own V-entropy H_V(y | B) is estimated once and each layer's probe on [B; h_l] compared with it."""

    def __init__(self, data: dict, labels: dict, n_classes: int, settings: ProbeSettings):
        self.labels, self.n_classes, self.settings, self.rows = labels, n_classes, settings, []
        self.wanted = bool(settings.codelength or settings.conditional)  # layer_rows needs the layer's vectors
        self.y = [labels[part] for part in ("train", "test", "dev")]
        if settings.codelength:
            self.rows.append((None, "uniform_codelength_bits", len(self.y[0]) * math.log2(n_classes)))
        if settings.conditional:
            parts = [data[part] for part in ("train", "test", "dev")]
            self.base = word_ids(*(d.words for d in parts)) if settings.conditional == "word" else \
                [d.features.layer(0, d.rows) for d in parts]
            self.base_bits = None

    def layer_rows(self, layer, x: dict):
        rows = []
        if self.settings.codelength:
            code = online_codelength(x["train"], self.y[0], self.n_classes, self.settings)
            rows += [(layer, "codelength_bits", code["codelength_bits"]), (layer, "compression", code["compression"])]
        if self.settings.conditional:
            info = conditional_information(self.base, [x[p] for p in ("train", "test", "dev")], self.y,
                                           self.n_classes, self.settings, self.base_bits)
            if self.base_bits is None:
                self.base_bits = info["baseline_bits"]
                self.rows.append((None, f"{self.settings.conditional}_baseline_bits", self.base_bits))
            rows.append((layer, "conditional_bits", info["information_bits"]))
        return rows


def _mix_rows(tr: TaggedData, te: TaggedData, y_train, y_test, n_classes, settings):
    rng = np.random.default_rng(settings.seed)
    keep = np.sort(rng.permutation(len(tr.rows))[:settings.mix_max_rows])
    x = tr.features.all_layers(tr.rows[keep]).transpose(0, 1)  # [rows, L, d]
    probe = fit_scalar_mix(x, y_train[keep], n_classes, settings)
    pred = probe.predict(te.features.all_layers(te.rows).transpose(0, 1))[0]
    return ([(None, "mix_accuracy", float((pred == y_test).float().mean())), (None, "mix_gamma", probe.gamma.item())]
            + [(layer, "mix_weight", w) for layer, w in enumerate(probe.weights())])


# -- tables, figures and saved runs ----------------------------------------------------------------

def table(records: list[dict]) -> pd.DataFrame:
    """A tidy result table; layer is a nullable integer (empty for layer-free rows such as baselines)."""
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    df["layer"] = df["layer"].astype("Int64")
    df["n"] = df["n"].astype("Int64")
    return df


FIRST = ["dev_accuracy", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "dev_f1", "f1", "f1_ci_low", "f1_ci_high",
         "control_accuracy", "selectivity", "compression", "codelength_bits", "conditional_bits"]  # columns shown first
FLAGS = ["best_layer", "best_layer_selectivity", "below_word_type"]  # shown as the flag column


def layer_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per model, task and layer with its metrics side by side, and a flag column naming the best layer(s)
    dev chose and every layer whose test accuracy is not above the word-type baseline ("below word type")."""
    df = results[results.layer.notna() & ~results.metric.isin(["mix_weight"])]
    if df.empty:
        return pd.DataFrame(columns=["model", "task", "layer", "flag"])
    wide = df.pivot_table(index=["model", "task", "layer"], columns="metric", values="value", sort=False)
    flag, prefixes = pd.Series("", index=wide.index), ("", "mlp_")
    for prefix, probe in zip(prefixes, ("", "MLP ")):
        if f"{prefix}best_layer" in wide:
            flag += np.where(wide[f"{prefix}best_layer"].notna(), f"{probe}best (dev); ", "")
        if f"{prefix}below_word_type" in wide:
            flag += np.where(wide[f"{prefix}below_word_type"] == 1, f"{probe}below word type; ", "")
    order = [p + c for p in prefixes for c in FIRST if p + c in wide.columns]
    order += sorted(set(wide.columns) - set(order) - {p + f for p in prefixes for f in FLAGS})
    return wide[order].assign(flag=flag.str.rstrip("; ")).reset_index()


def summary(results: pd.DataFrame) -> list[dict]:
    """Per model and task where dev chose layers: the best layer(s) (ties all listed), the metric dev chose on
    (``metric``: accuracy for POS and WiC, f1 for WSD), its dev and test values (``dev_<metric>``, ``test_<metric>``)
    with the test interval, the selectivity there (None without a control task), and the layers not above the
    word-type baseline (for config.json)."""
    out = []
    for (model, task), part in results.groupby(["model", "task"], sort=False):
        value = part.set_index(["metric", "layer"]).value
        metrics = value.index.get_level_values(0)
        if "best_layer" not in metrics:
            continue
        metric = next((m[4:] for m in dict.fromkeys(metrics) if m.startswith("dev_")), "accuracy")
        best = [int(l) for l in value["best_layer"].index]
        at = lambda m: {l: float(value[m][l]) for l in best} if m in metrics else None
        below, word_type = value.get("below_word_type"), value.get("word_type_baseline")
        out.append({"model": model, "task": task, "metric": metric, "best_layers": best,
                    f"dev_{metric}": at(f"dev_{metric}"), f"test_{metric}": at(metric),
                    "ci_low": at(f"{metric}_ci_low"), "ci_high": at(f"{metric}_ci_high"),
                    "selectivity": at("selectivity"),
                    "word_type_baseline": float(word_type.iloc[0]) if word_type is not None else None,
                    "below_word_type": [int(l) for l, v in below.items() if v == 1] if below is not None else []})
    return out


BASELINES = {"majority_baseline": "majority", "word_type_baseline": "word type", "mfs_f1": "MFS",
             "majority_accuracy": "majority"}


def depth(layer: pd.Series, relative: bool) -> pd.Series:
    """The x of a layer: its index, or layer / n_layers (0 = embeddings, 1 = top) to line up models of any depth."""
    return layer / layer.max() if relative else layer


def _depth_axis(fig, relative: bool, **where):
    if relative:
        fig.update_xaxes(title_text="relative depth (layer / n_layers)", range=[-0.03, 1.03], **where)
    else:
        fig.update_xaxes(title_text="layer", dtick=1, tick0=0, **where)  # layers are integers: no 0.5 ticks


def layer_figure(results: pd.DataFrame, task: str, metric: str, title: str | None = None, relative: bool = False,
                 metric_name: str | None = None):
    """metric against layer, one line per model with its bootstrap 95 % interval where one was computed; the
    scalar mix (dotted) and the baselines (dashed grey) as flat lines, every line named in the legend."""
    import plotly.graph_objects as go

    df = results[results.task == task]
    fig, span = go.Figure(), [0, 1] if relative else [df.layer.min(), df.layer.max()]
    for i, (model, part) in enumerate(df[df.metric == metric].groupby("model", sort=False)):
        part = part.sort_values("layer")
        mine = df[df.model == model]
        ci = {b: mine[mine.metric == f"{metric}_ci_{b}"].set_index("layer").value for b in ("low", "high")}
        value = part.set_index("layer").value
        error = dict(type="data", symmetric=False, array=(ci["high"] - value).tolist(),
                     arrayminus=(value - ci["low"]).tolist(), thickness=1) if len(ci["low"]) == len(value) else None
        fig.add_trace(go.Scatter(x=depth(part.layer, relative), y=part.value, mode="lines+markers", name=model,
                                 line_color=_color(i), error_y=error))
        mix = mine[mine.metric == f"mix_{metric}"]
        if len(mix):
            fig.add_trace(go.Scatter(x=span, y=[mix.value.iloc[0]] * 2, mode="lines", line=dict(
                color=_color(i), dash="dot", width=1), name=f"{model}: scalar mix ({mix.value.iloc[0]:.3f})"))
    for name, label in BASELINES.items() if metric.endswith(("accuracy", "f1", "precision", "recall")) else ():
        base = df[df.metric == name]
        if len(base):
            fig.add_trace(go.Scatter(x=span, y=[base.value.iloc[0]] * 2, mode="lines", name=f"{label} baseline "
                                     f"({base.value.iloc[0]:.3f})", line=dict(color="grey", dash="dash", width=1)))
    metric_name = metric_name or metric.replace("_", " ")
    bars = " (bars: bootstrap 95 % interval over test sentences)" if any(t.error_y.array for t in fig.data) else ""
    fig.update_layout(title=title or f"{task}: {metric_name} by layer{bars}", yaxis_title=metric_name,
                      template="plotly_white")
    _depth_axis(fig, relative)
    return fig


def selectivity_figure(results: pd.DataFrame, task: str, relative: bool = False):
    """Accuracy, control accuracy and selectivity per layer; linear probes solid, MLP probes dashed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    df = results[results.task == task]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("accuracy (o) and control accuracy (x)", "selectivity"))
    for i, (model, part) in enumerate(df.groupby("model", sort=False)):
        color = _color(i)
        for prefix, dash in (("", "solid"), ("mlp_", "dash")):
            for metric, col, symbol in ((f"{prefix}accuracy", 1, "circle"), (f"{prefix}control_accuracy", 1, "x"),
                                        (f"{prefix}selectivity", 2, "circle")):
                line = part[part.metric == metric].sort_values("layer")
                if len(line):  # one legend entry per model (its first line); the hover names the metric
                    first = not any(t.legendgroup == model for t in fig.data)
                    fig.add_trace(go.Scatter(x=depth(line.layer, relative), y=line.value, mode="lines+markers",
                                             name=model, line=dict(color=color, dash=dash), marker_symbol=symbol,
                                             legendgroup=model, showlegend=first,
                                             hovertemplate=f"{model} {metric.replace('_', ' ')}<br>layer "
                                                           f"{'%{x:.2f}' if relative else '%{x}'}: "
                                                           "%{y:.3f}<extra></extra>"), row=1, col=col)
    _depth_axis(fig, relative)
    fig.update_layout(title=f"{task}: selectivity (Hewitt & Liang control task); linear probes solid, MLP dashed",
                      template="plotly_white", legend=dict(orientation="h", y=-0.25, x=0))  # below: never clipped
    return fig


def mix_weights_figure(results: pd.DataFrame):
    """The learned scalar-mix weights per layer, one panel per model, one bar colour per task (ELMo Fig. 2)."""
    import plotly.express as px

    df = results[results.metric == "mix_weight"]
    rows = -(-df.model.nunique() // 3)
    fig = px.bar(df, x="layer", y="value", color="task", barmode="group", facet_col="model", facet_col_wrap=3,
                 facet_row_spacing=0.12,  # room for each row's ticks and the next row's titles
                 labels=dict(value="softmax weight"), template="plotly_white", height=120 + 260 * rows,
                 title="scalar-mix layer weights learned with the probe")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    fig.update_xaxes(matches=None, showticklabels=True, dtick=1)
    return fig


def _color(i: int) -> str:
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly
    return palette[i % len(palette)]


def run_config(task: str, models: list[Model], data: dict[str, str | Path], settings: ProbeSettings,
               **extra) -> dict:
    """Everything needed to repeat a run: model ids and weight hashes, data files and their sha256, settings."""
    return dict(task=task,
                models=[dict(name=m.name, family=m.family, params=m.n_params, weights_sha256=model_fingerprint(m))
                        for m in models],
                data={role: dict(path=str(Path(p).resolve()), sha256=file_sha256(p)) for role, p in data.items()},
                settings=asdict(settings), **extra)


def save_run(out: str | Path, results: pd.DataFrame, figures: dict, config: dict, png: bool = True) -> dict:
    """results.csv, config.json and figures (HTML, PNG when kaleido can render offline) into ``out``;
    returns the config as written (with the figure names and whether PNGs were made).

    Everything is written to a temporary folder beside ``out`` and renamed into place at the end,
    so an interrupted run never leaves a partial result that looks complete.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "config.json").exists():
        raise ExplorerError(f"{out} exists and is not a probe result folder: choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        results.to_csv(tmp / "results.csv", index=False)
        config = dict(config, figures=sorted(figures), png=save_figures(figures, tmp, png))
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=str))
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return config
