"""A model's headline scores on the shipped demo sets: the numbers the Journey page puts beside the papers'."""
import pandas as pd

from ..data import conllu
from ..data import senses as sense_files
from ..data.tasks import get_task
from . import probing, prompting, wsd


def demo_scores(model) -> dict[str, str]:
    """Best-layer POS accuracy and WSD F1 on the demo sets, and few-shot retrieval accuracy at k = 0 and 8."""
    fast = probing.ProbeSettings(mix=False)
    pos = probing.pos_probe(model, conllu.read_pos_file(conllu.DEMO_POS_TRAIN),
                            conllu.read_pos_file(conllu.DEMO_POS_TEST), settings=fast)
    senses = wsd.wsd_probe(model, sense_files.read_sense_file(sense_files.DEMO_SENSES_TRAIN),
                           sense_files.read_sense_file(sense_files.DEMO_SENSES_TEST), name="demo", settings=fast)
    scores = {"POS, best layer": _best(pos, "accuracy"), "word sense F1, best layer": _best(senses, "f1")}
    if model.causal:
        shots = prompting.accuracy_curve([model], get_task("retrieval"), ks=(0, 8), seeds=2, n_queries=25)
        acc = shots.table.groupby("k").accuracy.mean()
        scores["few-shot retrieval, k = 0 → 8"] = f"{acc[0]:.0%} → {acc[8]:.0%}"
    return scores


def _best(results: pd.DataFrame, metric: str) -> str:
    """The test score at the layer dev chose (the lowest of tied ones), else at the highest on test."""
    rows = results[(results.metric == metric) & results.layer.notna()]
    chosen = results[results.metric == "best_layer"].layer
    best = rows[rows.layer == chosen.min()].iloc[0] if len(chosen) else rows.loc[rows.value.idxmax()]
    return f"{best.value:.0%} (layer {int(best.layer)})"
