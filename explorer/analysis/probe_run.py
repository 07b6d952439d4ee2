"""One probing run, for both surfaces: the `probe` command and the Probing lab hand it a task's data (read by
explorer.data.probe_data) and the models, and get back one result table, the configuration that repeats the run,
and the figures built from them."""
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from ..data.probe_data import ProbeData
from ..zoo import random_copy
from . import geometry, probing, wsd

METRIC = {"pos": "accuracy", "wsd": "f1", "wic": "accuracy"}  # each task's main metric, drawn first


@dataclass
class ProbeRun:
    """A finished run: every model's rows in one tidy table (probing.COLUMNS) and the run's configuration."""

    task: str
    shown: str  # the task its figures show: pos/upos, wsd/NAME (a WSD test set's parts are tasks of their own), ...
    results: pd.DataFrame
    config: dict
    layouts: list[geometry.LayerGeometry] = field(default_factory=list)  # geometry: each model's layouts

    def figures(self, relative: bool = False) -> dict:
        """The figures by name: the main metric by layer, POS's selectivity and information measures, the scalar
        mix's weights; geometry's layouts and separation per model. ``relative``: x = layer / n_layers."""
        r, shown, figures = self.results, self.shown, {}
        if self.task in METRIC:
            figures[METRIC[self.task]] = probing.layer_figure(r, shown, METRIC[self.task], relative=relative)
        if self.task == "pos":
            figures["selectivity"] = probing.selectivity_figure(r, shown, relative=relative)
            figures |= {m: probing.layer_figure(r, shown, m, relative=relative)
                        for m in ("compression", "conditional_bits") if (r.metric == m).any()}
        if (r.metric == "mix_weight").any():
            figures["mix_weights"] = probing.mix_weights_figure(r)
        for i, geom in enumerate(self.layouts):
            figures |= {f"{method}_{i}": geometry.geometry_figure(geom, method) for method in geom.coords}
            figures[f"separation_{i}"] = geometry.separation_figure(geom)
        return figures


def run(data: ProbeData, models: Iterable, settings: probing.ProbeSettings, *, control: bool = False,
        pool: str = "first", tagset: str = "upos", word: str = "bank", cache_dir=None, progress: bool = False,
        on_model: Callable | None = None, on_step: Callable | None = None, **record) -> ProbeRun:
    """Each of ``models`` probed in turn on ``data`` (with ``control``, each followed by a copy with fresh random
    weights: the same architecture and tokenizer). ``models`` may load lazily (a generator); ``on_model(index,
    model)`` hears which one starts, ``on_step`` its stages (as for probing.pos_probe); ``progress`` draws the
    feature extraction's terminal bars. ``tagset`` is POS's CoNLL-U column, ``word`` geometry's lemma; ``record``:
    more for the configuration to record (the `probe` command's command line)."""
    probed, tables, layouts = [], [], []
    for model in _with_controls(models, control, settings.seed):
        if on_model:
            on_model(len(probed), model)
        probed.append(model)
        if data.task == "geometry":
            layouts.append(geometry.layer_geometry(model, geometry.sense_points(data.test, word), pool=pool,
                                                   title=f"{word} in {model.name}", seed=settings.seed,
                                                   cache_dir=cache_dir))
            tables.append(_separation(layouts[-1], f"geometry/{word}"))
        else:
            tables.append(_probe(model, data, settings, pool=pool, tagset=tagset, cache_dir=cache_dir,
                                 progress=progress, on_step=on_step))
    results = pd.concat(tables, ignore_index=True)
    shown = results.task.iloc[0]  # every probe's first rows are its whole test set's
    config = probing.run_config(data.task, probed, data.files, settings, pool=pool, **record,
                                summary=probing.summary(results), **_described(data, shown, word))
    return ProbeRun(data.task, shown, results, config, layouts)


def _with_controls(models: Iterable, control: bool, seed: int) -> Iterator:
    for model in models:
        yield model
        if control:
            yield random_copy(model, seed)


def _probe(model, data: ProbeData, settings, *, tagset, **how) -> pd.DataFrame:
    if data.task == "pos":
        return probing.pos_probe(model, data.train, data.test, dev=data.dev, tagset=tagset, settings=settings, **how)
    if data.task == "wsd":
        return wsd.wsd_probe(model, data.train, data.test, name=data.name, max_train_sentences=data.train_limit,
                             first_senses=data.first_senses, settings=settings, dev=data.dev, **how)
    return wsd.wic_probe(model, data.train, data.test, name=data.name, settings=settings, dev=data.dev, **how)


def _separation(geom: geometry.LayerGeometry, task: str) -> pd.DataFrame:
    return probing.table(geom.separation.assign(model=geom.model, task=task).to_dict("records"))


def _described(data: ProbeData, shown: str, word: str) -> dict:
    """What the configuration records about the data, beyond its files."""
    if data.task == "pos":
        return dict(tagset=shown.partition("/")[2], train_sentences=len(data.train), test_sentences=len(data.test),
                    dev_sentences=len(data.dev) if data.dev else None, train_limit=data.train_limit,
                    test_limit=data.test_limit, word_col=data.word_col, tag_col=data.tag_col)
    if data.task == "wsd":
        return dict(test_name=data.name, train_sentences=len(data.train), train_limit=data.train_limit,
                    dev_sentences=len(data.dev) if data.dev else None)
    if data.task == "wic":
        return dict(test_name=data.name, train_pairs=len(data.train), test_pairs=len(data.test),
                    dev_pairs=len(data.dev) if data.dev else None)
    return dict(word=word, points=len(geometry.sense_points(data.test, word)))
