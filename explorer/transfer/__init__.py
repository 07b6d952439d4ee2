"""How each model is used and what it gains over the same network trained from scratch (issue 14).

Submodules and the names below are imported on first use (``transfer.curve``, ``transfer.finetune``): the usage
modes need torch, a page that only reads results does not."""
from ..lazy import attach

EXPORTS = {"data": ["TaskData", "read_task", "sst2", "upos"],
           "modes": ["Result", "baselines", "features", "fewshot", "finetune", "scratch", "table", "zeroshot"],
           "network": ["TrainSettings", "load_classifier"],
           "results": ["MODES"],
           "shift": ["Shift", "linear_cka"]}  # the function shift is transfer.shift.shift: one name, one thing
__all__ = sorted(name for names in EXPORTS.values() for name in names)
__getattr__, __dir__ = attach(__name__, EXPORTS)
