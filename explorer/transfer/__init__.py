"""How each model is used and what it gains over the same network trained from scratch (issue 14)."""
from .data import TaskData, read_task, sst2, upos
from .modes import MODES, Result, baselines, features, fewshot, finetune, scratch, table, zeroshot
from .network import TrainSettings, load_classifier
from .shift import Shift, linear_cka, shift

__all__ = ["MODES", "Result", "TaskData", "TrainSettings", "baselines", "features", "fewshot", "finetune",
           "linear_cka", "load_classifier", "read_task", "scratch", "Shift", "shift", "sst2", "table", "upos",
           "zeroshot"]
