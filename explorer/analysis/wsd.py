"""Word senses per layer: nearest-centroid WSD as in ELMo §5.3, and WiC-style same-sense decisions.

WSD: per layer, each sense's training vectors (SemCor) are averaged into a centroid; a test instance
takes the nearest centroid (cosine) among its lemma's senses seen in training. When none was seen
(or the instance has no vector) it falls back to the lemma's most frequent sense by SemCor counts,
and for lemmas SemCor never annotates, to WordNet's first sense when an inventory is given (as
ELMo did). The cap on SemCor sentences limits the centroids, not the counts. Scores follow the evaluation
framework: an answer is correct when it matches any gold key; P = correct / answered,
R = correct / all, F1 their harmonic mean. The MFS-only baseline is reported beside it.

Choosing without peeking, as the POS probe does: a dev set (given, or a seeded ``dev_fraction`` of the
(capped) training sentences, held out of the centroids and of the MFS counts) is scored per layer
(``dev_f1``, the same scoring) and picks the best layer(s) (``best_layer`` rows, ties within
``tie_tolerance`` all reported, on every test part); the test set is scored once per layer with the
centroids dev judged, with a bootstrap 95 % interval over test sentences (``f1_ci_low``/``_high``).

The WSD scalar mix is the nearest-centroid counterpart of the POS probe's: softmax layer weights
learned so that the mixed vectors of training instances sit closest (leave-one-out) to their own
sense's centroid among their lemma's senses.

WiC: per layer, the cosine between the target word's two vectors, thresholded at the value that
is most accurate on the training pairs; a dev set (given, or a seeded share of the training pairs, held out
of the thresholds) picks the layer(s) by ``dev_accuracy``, and the test pairs are scored once per layer with a
bootstrap 95 % interval over test pairs.
"""
import random
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.wic import WicPair
from ..data.senses import FRAMEWORK_PARTS, SenseInstance, SenseSentence
from ..errors import ExplorerError
from ..families.base import Model
from ..features import Features, extract_features
from .probing import ProbeSettings, bootstrap_interval, stepper, standardiser, table, tied_best


@dataclass
class SenseData:
    """The instances of a sense-annotated set and their feature rows (a multiword instance has several)."""

    instances: list[SenseInstance]
    features: Features
    rows: torch.Tensor  # feature row of each (instance, word) pair ...
    owner: torch.Tensor  # ... and the instance it belongs to
    has_vector: torch.Tensor  # bool per instance: False when all its words fell outside the model's context
    sentence: np.ndarray  # the sentence each instance comes from (to split and resample by sentence)

    def vectors(self, layer: int) -> torch.Tensor:
        """[n_instances, d]: the mean of each instance's word vectors at ``layer`` (zeros without a vector)."""
        x = self.features.layer(layer)
        out = torch.zeros(len(self.instances), x.shape[1]).index_add_(0, self.owner, x[self.rows])
        counts = torch.bincount(self.owner, minlength=len(self.instances)).clamp(min=1)
        return out / counts[:, None]

    def take(self, keep) -> "SenseData":
        """The instances ``keep`` (indices, in order) over the same features."""
        keep = torch.as_tensor(np.asarray(keep), dtype=torch.long)
        new = torch.full((len(self.instances),), -1, dtype=torch.long)
        new[keep] = torch.arange(len(keep))
        stays = new[self.owner] >= 0
        return SenseData([self.instances[i] for i in keep.tolist()], self.features, self.rows[stays],
                         new[self.owner[stays]], self.has_vector[keep], self.sentence[keep.numpy()])


def dev_split(data: SenseData, fraction: float, seed: int = 0) -> tuple[SenseData, SenseData]:
    """(train, dev): a seeded share of the training sentences (all their instances) held out to choose the layer."""
    ids = np.unique(data.sentence)
    if len(ids) < 2:
        raise ExplorerError("too few training sentences to hold out a dev set for choosing the layer: give a dev set")
    held = np.random.default_rng(seed).choice(ids, size=min(len(ids) - 1, max(1, round(fraction * len(ids)))),
                                              replace=False)
    in_dev = np.isin(data.sentence, held)
    return data.take(np.flatnonzero(~in_dev)), data.take(np.flatnonzero(in_dev))


def sample_sentences(sentences: list, cap: int | None, seed: int = 0) -> list:
    """At most ``cap`` sentences drawn at random (kept in corpus order), so a capped SemCor covers all its texts."""
    if cap is None or len(sentences) <= cap:
        return sentences
    keep = sorted(random.Random(seed).sample(range(len(sentences)), cap))
    return [sentences[i] for i in keep]


def sense_data(model: Model, sentences: list[SenseSentence], pool: str = "first", cache_dir=None,
               progress: bool = False, batch_size: int | None = None) -> SenseData:
    sentences = [s for s in sentences if s.instances]
    if not sentences:
        raise ExplorerError("the sense-annotated set has no instances")
    select = [sorted({j for inst in s.instances for j in range(inst.start, inst.end)}) for s in sentences]
    feats = extract_features(model, [s.words for s in sentences], pool=pool, select=select, cache_dir=cache_dir,
                             progress=progress, batch_size=batch_size)
    instances, rows, owner, sentence = [], [], [], []
    for number, (s, sel, offset) in enumerate(zip(sentences, select, feats.offsets)):
        where = {j: offset + k for k, j in enumerate(sel)}
        for inst in s.instances:
            for j in range(inst.start, inst.end):
                if not feats.missing[where[j]]:
                    rows.append(where[j])
                    owner.append(len(instances))
            instances.append(inst)
            sentence.append(number)
    owner = torch.tensor(owner, dtype=torch.long)
    has_vector = torch.bincount(owner, minlength=len(instances)) > 0
    return SenseData(instances, feats, torch.tensor(rows, dtype=torch.long), owner, has_vector,
                     np.array(sentence, dtype=np.int64))


def most_frequent_senses(sentences: list[SenseSentence]) -> dict[tuple[str, str], str]:
    """(lemma, pos) -> its most frequent key in the training set (ties: the key seen first)."""
    counts: dict[tuple, Counter] = {}
    for s in sentences:
        for inst in s.instances:
            counts.setdefault((inst.lemma, inst.pos), Counter()).update(inst.keys)
    return {lemma: c.most_common(1)[0][0] for lemma, c in counts.items()}


@dataclass
class SenseInventory:
    """Senses seen in training: their ids, and the candidate senses of each (lemma, pos)."""

    keys: list[str]
    index: dict[str, int]
    candidates: dict[tuple[str, str], list[int]]
    members: list[tuple[int, int]]  # (training instance, sense) pairs that form the centroids

    @classmethod
    def from_training(cls, data: SenseData) -> "SenseInventory":
        keys, index, candidates, members = [], {}, {}, []
        for i, inst in enumerate(data.instances):
            if not data.has_vector[i]:
                continue
            for key in inst.keys:
                if key not in index:
                    index[key] = len(keys)
                    keys.append(key)
                    candidates.setdefault((inst.lemma, inst.pos), []).append(index[key])
                members.append((i, index[key]))
        if not keys:
            raise ExplorerError("no training instance has a vector: the training set is empty or cut off entirely")
        return cls(keys, index, candidates, members)

    def centroids(self, vectors: torch.Tensor) -> torch.Tensor:
        """[n_senses, d]: the mean training vector of each sense."""
        inst, sense = (torch.tensor(c) for c in zip(*self.members))
        sums = torch.zeros(len(self.keys), vectors.shape[1]).index_add_(0, sense, vectors[inst])
        return sums / torch.bincount(sense, minlength=len(self.keys)).clamp(min=1)[:, None]

    def candidate_matrix(self, instances: list[SenseInstance]) -> torch.Tensor:
        """[n, K] sense ids of each instance's candidates, padded with -1."""
        lists = [self.candidates.get((inst.lemma, inst.pos), []) for inst in instances]
        out = torch.full((len(lists), max(1, max(map(len, lists)))), -1, dtype=torch.long)
        for i, c in enumerate(lists):
            out[i, :len(c)] = torch.tensor(c, dtype=torch.long)
        return out


def nearest_centroid(vectors: torch.Tensor, centroids: torch.Tensor, candidates: torch.Tensor,
                     chunk: int = 1024) -> torch.Tensor:
    """Index into ``candidates`` of the most cosine-similar centroid per row (-1 when there is none)."""
    c = nn.functional.normalize(centroids, dim=-1)
    v = nn.functional.normalize(vectors, dim=-1)
    best = []
    for i in range(0, len(v), chunk):
        cand = candidates[i:i + chunk]
        sims = torch.einsum("nd,nkd->nk", v[i:i + chunk], c[cand.clamp(min=0)]).masked_fill(cand < 0, -torch.inf)
        pick = sims.argmax(-1)
        best.append(torch.where(cand[:, 0] >= 0, pick, -1))
    return torch.cat(best)


def framework_scores(predictions: list[str | None], instances: list[SenseInstance]) -> dict:
    """Precision, recall and F1 as the framework's scorer counts them (any gold key is right)."""
    answered = sum(p is not None for p in predictions)
    correct = sum(p is not None and p in inst.keys for p, inst in zip(predictions, instances))
    p = correct / answered if answered else 0.0
    r = correct / len(instances) if instances else 0.0
    return dict(precision=p, recall=r, f1=2 * p * r / (p + r) if p + r else 0.0)


def _parts(instances: list[SenseInstance], name: str) -> dict[str, list[int]]:
    """The whole set, plus each framework test set when the set concatenates them (as ALL does)."""
    parts = {name: list(range(len(instances)))}
    names = {inst.part for inst in instances}
    if len(names) > 1 and names <= set(FRAMEWORK_PARTS):
        for part in sorted(names):
            parts[part] = [i for i, inst in enumerate(instances) if inst.part == part]
    return parts


def wsd_probe(model: Model, train: list[SenseSentence], test: list[SenseSentence], *, name: str = "test",
              max_train_sentences: int | None = None, first_senses: dict | None = None, pool: str = "first",
              settings: ProbeSettings | None = None, cache_dir=None, progress: bool = False,
              on_step=None, dev: list[SenseSentence] | None = None) -> pd.DataFrame:
    """Per-layer nearest-centroid WSD F1 on ``test`` (and its framework parts), the MFS baseline beside it.

    ``dev`` (else a seeded ``settings.dev_fraction`` of the sampled training sentences) picks the best layer(s);
    centroids, MFS counts and the scalar mix come from the training sentences without it, and test is scored once
    per layer with those centroids. ``first_senses``: (lemma, POS) -> WordNet's first sense
    (``data.senses.wordnet_first_senses``), the last fallback of both the probe and the MFS baseline. ``on_step``
    as for probing.pos_probe.
    """
    settings = (settings or ProbeSettings()).check()
    step = stepper(on_step, model.n_layers + 2 + settings.mix)  # vectors, each layer (0..L), the mix
    step("word vectors of every layer")
    sampled = [s for s in sample_sentences(train, max_train_sentences, settings.seed) if s.instances]
    tr = sense_data(model, sampled, pool, cache_dir, progress)
    te = sense_data(model, test, pool, cache_dir, progress)
    if dev is None:
        tr, dv = dev_split(tr, settings.dev_fraction, settings.seed)
        held = {id(sampled[i]) for i in np.unique(dv.sentence)}
        counted = [s for s in train if id(s) not in held]  # dev's answers stay out of the MFS counts too
    else:
        dv, counted = sense_data(model, dev, pool, cache_dir, progress), train
    mfs = dict(first_senses or {}) | most_frequent_senses(counted)
    inventory = SenseInventory.from_training(tr)
    sets = [(d, inventory.candidate_matrix(d.instances), [mfs.get((i.lemma, i.pos)) for i in d.instances])
            for d in (te, dv)]  # (data, candidate senses, fallback) of test and of dev
    parts = _parts(te.instances, name)
    rows = []
    for part, idx in parts.items():
        scores = framework_scores([sets[0][2][i] for i in idx], [te.instances[i] for i in idx])
        rows += [(part, None, f"mfs_{k}", v, len(idx)) for k, v in scores.items()]
    dev_f1 = {}
    for layer in range(tr.features.n_layers):
        step(f"sense centroids on layer {layer} of {tr.features.n_layers - 1}")
        centroids = inventory.centroids(tr.vectors(layer))
        predictions, dev_predictions = (_predict(data, data.vectors(layer), centroids, candidates, inventory,
                                                 fallback) for data, candidates, fallback in sets)
        dev_f1[layer] = framework_scores(dev_predictions, dv.instances)["f1"]
        for part, idx in parts.items():
            sub = [te.instances[i] for i in idx]
            scores = framework_scores([predictions[i] for i in idx], sub)
            rows += [(part, layer, k, v, len(idx)) for k, v in scores.items()]
            rows.append((part, layer, "dev_f1", dev_f1[layer], len(dv.instances)))
            if settings.bootstrap:
                low, high = bootstrap_f1([predictions[i] for i in idx], sub, te.sentence[idx], settings.bootstrap,
                                         settings.seed)
                rows += [(part, layer, "f1_ci_low", low, len(idx)), (part, layer, "f1_ci_high", high, len(idx))]
    best = tied_best(dev_f1, settings.tie_tolerance)
    rows += [(part, layer, "best_layer", dev_f1[layer], len(dv.instances)) for part in parts for layer in best]
    if settings.mix:
        step("the scalar mix")
        mix = fit_sense_mix(tr, inventory, settings)
        centroids = inventory.centroids(mix.mixed(tr))
        predictions = _predict(te, mix.mixed(te), centroids, sets[0][1], inventory, sets[0][2])
        for part, idx in parts.items():
            scores = framework_scores([predictions[i] for i in idx], [te.instances[i] for i in idx])
            rows.append((part, None, "mix_f1", scores["f1"], len(idx)))
        rows += [(name, layer, "mix_weight", w, len(parts[name])) for layer, w in enumerate(mix.weights())]
    step("done")
    return table([dict(model=model.name, layer=layer, task=f"wsd/{part}", metric=metric, value=value, n=n)
                  for part, layer, metric, value, n in rows])


def bootstrap_f1(predictions: list[str | None], instances: list[SenseInstance], groups, n: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the framework F1, resampling whole sentences (``groups``: each instance's sentence),
    as probing.bootstrap_interval does for accuracy (same seed, same resamples: layers are compared paired)."""
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    answered = np.array([p is not None for p in predictions], dtype=float)
    correct = np.array([p is not None and p in inst.keys for p, inst in zip(predictions, instances)], dtype=float)
    hits, said, sizes = np.bincount(g, weights=correct), np.bincount(g, weights=answered), np.bincount(g)
    idx = np.random.default_rng(seed).integers(len(sizes), size=(n, len(sizes)))
    c, a, t = hits[idx].sum(1), said[idx].sum(1), sizes[idx].sum(1)
    p, r = np.divide(c, a, out=np.zeros_like(c), where=a > 0), c / t
    f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=p + r > 0)
    return tuple(float(q) for q in np.quantile(f1, [(1 - level) / 2, (1 + level) / 2]))


def _predict(te: SenseData, vectors, centroids, candidates, inventory, fallback) -> list[str | None]:
    pick = nearest_centroid(vectors, centroids, candidates)
    out = []
    for i, k in enumerate(pick.tolist()):
        if k >= 0 and te.has_vector[i]:
            out.append(inventory.keys[int(candidates[i, k])])
        else:
            out.append(fallback[i])
    return out


# -- the WSD scalar mix ----------------------------------------------------------------------------

class SenseMix(nn.Module):
    """Softmax layer weights over standardised layers, and a temperature for the training objective."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)  # [L, d]
        self.register_buffer("std", std)
        self.scalars = nn.Parameter(torch.zeros(mean.shape[0]))
        self.log_temperature = nn.Parameter(torch.tensor(-2.0))

    def standardised(self, data: SenseData, layer: int) -> torch.Tensor:
        return (data.vectors(layer) - self.mean[layer]) / self.std[layer]

    @torch.no_grad()
    def mixed(self, data: SenseData) -> torch.Tensor:
        """[n_instances, d]: the weighted sum of standardised layers, one layer in memory at a time."""
        return sum(w * self.standardised(data, layer) for layer, w in enumerate(self.weights()))

    def weights(self) -> list[float]:
        return self.scalars.detach().softmax(0).tolist()


def fit_sense_mix(tr: SenseData, inventory: SenseInventory, settings: ProbeSettings) -> SenseMix:
    """Learn layer weights under which training instances are nearest to their own sense's centroid.

    Centroids are means, so the mixed centroid is the mix of per-layer centroids; an instance's own
    sense centroid leaves the instance out. Only instances with one key, a lemma with several seen
    senses and a sense seen at least twice teach anything.
    """
    torch.manual_seed(settings.seed)
    n_layers = tr.features.n_layers
    stats = [standardiser(tr.vectors(layer)[tr.has_vector]) for layer in range(n_layers)]
    mix = SenseMix(torch.stack([m for m, _ in stats]), torch.stack([s for _, s in stats]))
    member_inst, member_sense = (torch.tensor(c) for c in zip(*inventory.members))
    n = torch.bincount(member_sense, minlength=len(inventory.keys)).float()
    cand = inventory.candidate_matrix(tr.instances)
    usable = [i for i, inst in enumerate(tr.instances)
              if tr.has_vector[i] and len(inst.keys) == 1 and (cand[i] >= 0).sum() > 1
              and n[inventory.index[inst.keys[0]]] > 1]
    if not usable:
        return mix  # nothing to learn from: uniform weights
    usable = torch.tensor(np.random.default_rng(settings.seed).permutation(usable)[:settings.mix_max_rows])
    # Per-sense sums of standardised vectors [S, L, d] and the training rows [U, L, d] (float16), layer by layer.
    sums = torch.zeros(len(inventory.keys), n_layers, tr.features.dim)
    z = torch.zeros(len(usable), n_layers, tr.features.dim, dtype=torch.float16)
    for layer in range(n_layers):
        zl = mix.standardised(tr, layer)
        sums[:, layer].index_add_(0, member_sense, zl[member_inst])
        z[:, layer] = zl[usable].half()
    gold_sense = torch.tensor([inventory.index[tr.instances[i].keys[0]] for i in usable.tolist()])
    cand = cand[usable]
    gold_pos = (cand == gold_sense[:, None]).float().argmax(-1)
    opt = torch.optim.Adam(mix.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(settings.seed)
    for _ in range(settings.min_steps):
        batch = torch.randint(len(usable), (min(512, len(usable)),), generator=gen)
        c, g, own_sense = cand[batch], gold_pos[batch], gold_sense[batch]
        w = mix.scalars.softmax(0)
        v = torch.einsum("l,bld->bd", w, z[batch].float())
        mixed_sums = torch.einsum("l,sld->sd", w, sums)
        means = mixed_sums[c.clamp(min=0)] / n[c.clamp(min=0), None]
        # The instance's own sense: its centroid without the instance (leave one out).
        own = (mixed_sums[own_sense] - v) / (n[own_sense] - 1)[:, None]
        means = means.index_put((torch.arange(len(batch)), g), own)
        sims = nn.functional.cosine_similarity(v[:, None], means, dim=-1) / mix.log_temperature.exp()
        loss = nn.functional.cross_entropy(sims.masked_fill(c < 0, -torch.inf), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return mix.eval()


# -- WiC -------------------------------------------------------------------------------------------

def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut (midway between neighbouring scores) above which 'same sense' is most accurate."""
    order = np.sort(np.unique(scores))
    cuts = np.concatenate([[order[0] - 1e-6], (order[1:] + order[:-1]) / 2, [order[-1] + 1e-6]])
    accuracy = [np.mean((scores > c) == labels) for c in cuts]
    return float(cuts[int(np.argmax(accuracy))])


def wic_probe(model: Model, train: list[WicPair], test: list[WicPair], *, name: str = "test", pool: str = "first",
              settings: ProbeSettings | None = None, dev: list[WicPair] | None = None, cache_dir=None,
              progress: bool = False, on_step=None) -> pd.DataFrame:
    """Per-layer WiC accuracy of a cosine threshold tuned on the training pairs; majority baseline beside it.

    ``dev`` (else a seeded ``settings.dev_fraction`` of the training pairs, held out of the thresholds) picks the
    best layer(s) by accuracy with each layer's training threshold; test is scored once per layer, with a bootstrap
    95 % interval over test pairs. ``on_step`` as for probing.pos_probe."""
    settings = (settings or ProbeSettings()).check()
    if len({p.same for p in train}) < 2:
        raise ExplorerError("every training pair has the same label: a threshold needs both T and F pairs")
    step = stepper(on_step, 3 + (dev is not None))  # the sets' vectors, then the thresholds (fast)
    sets = [("training", train), ("test", test)] + ([("dev", dev)] if dev is not None else [])
    similarities = []
    for role, pairs in sets:
        step(f"word vectors of every layer, {role} pairs")
        similarities.append(_pair_similarities(model, pairs, pool, cache_dir, progress))
    y_train, y_test = np.array([p.same for p in train]), np.array([p.same for p in test])
    if dev is None:  # a seeded share of the training pairs, kept out of the thresholds
        if len(train) < 3:
            raise ExplorerError("too few training pairs to hold out a dev set for choosing the layer: give a dev set")
        rng = np.random.default_rng(settings.seed)
        in_dev = np.isin(np.arange(len(train)), rng.permutation(len(train))[:max(1, round(settings.dev_fraction
                                                                                          * len(train)))])
        similarities[0], dev_similarities = similarities[0][:, ~in_dev], similarities[0][:, in_dev]
        y_train, y_dev = y_train[~in_dev], y_train[in_dev]
        if len(set(y_train)) < 2:
            raise ExplorerError("the training pairs left after holding out dev have one label: give a dev set")
    else:
        dev_similarities, y_dev = similarities.pop(), np.array([p.same for p in dev])
    step("a threshold per layer")
    majority = bool(y_train.mean() >= 0.5)
    rows, dev_accuracy = [(None, "majority_baseline", float(np.mean(y_test == majority)), len(test))], {}
    for layer in range(similarities[0].shape[0]):
        cut = best_threshold(similarities[0][layer], y_train)
        correct = (similarities[1][layer] > cut) == y_test
        dev_accuracy[layer] = float(np.mean((dev_similarities[layer] > cut) == y_dev))
        rows += [(layer, "accuracy", float(correct.mean()), len(test)), (layer, "threshold", cut, len(y_train)),
                 (layer, "dev_accuracy", dev_accuracy[layer], len(y_dev))]
        if settings.bootstrap:
            low, high = bootstrap_interval(correct, np.arange(len(test)), settings.bootstrap, settings.seed)
            rows += [(layer, "accuracy_ci_low", low, len(test)), (layer, "accuracy_ci_high", high, len(test))]
    rows += [(layer, "best_layer", dev_accuracy[layer], len(y_dev))
             for layer in tied_best(dev_accuracy, settings.tie_tolerance)]
    step("done")
    return table([dict(model=model.name, layer=layer, task=f"wic/{name}", metric=metric, value=value, n=n)
                  for layer, metric, value, n in rows])


def _pair_similarities(model, pairs: list[WicPair], pool, cache_dir, progress) -> np.ndarray:
    """[n_layers + 1, n_pairs] cosine between each pair's two target vectors. Each distinct sentence is traced once,
    for all its targets (a context shared by several pairs, as SemCor's are, is not traced again)."""
    targets: dict[tuple, dict[int, None]] = {}  # sentence -> its target word indices, in first-seen order
    for p in pairs:
        for words, index in ((p.words1, p.index1), (p.words2, p.index2)):
            targets.setdefault(words, {})[index] = None
    feats = extract_features(model, [list(w) for w in targets], pool=pool, select=[list(t) for t in targets.values()],
                             cache_dir=cache_dir, progress=progress)
    if feats.missing.any():
        raise ExplorerError(f"{int(feats.missing.sum())} target words fall outside {model.name}'s context: "
                            "shorten those sentences")
    row = {(words, index): feats.offsets[s] + j for s, (words, indices) in enumerate(targets.items())
           for j, index in enumerate(indices)}
    first = np.array([row[p.words1, p.index1] for p in pairs])
    second = np.array([row[p.words2, p.index2] for p in pairs])
    out = []
    for layer in range(feats.n_layers):
        x = feats.layer(layer)
        out.append(nn.functional.cosine_similarity(x[first], x[second], dim=-1).numpy())
    return np.stack(out)
