"""A training run without torch: its configuration, and the names and JSON files it leaves in its folder (the
Train page reads these; explorer/training/checkpoint.py writes the tensors)."""
import json
import os
import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import ExplorerError
from ..families import family
from ..zoo import TINY

CHECKPOINT, METRICS = "checkpoint", "metrics.jsonl"
PREPARING, PREPARING_STAGES = "preparing", 4  # log lines before the first step: "preparing (2/4): ..."


@dataclass
class TrainConfig:
    """Everything that defines a run (saved in the checkpoint, so --resume continues the same run)."""

    family: str
    corpus: str | os.PathLike
    tokens: int
    out: str | os.PathLike
    name: str = ""
    size: dict = field(default_factory=dict)
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    icl_share: float = 0.5  # as the shipped causal models: in-context retrieval emerges (explorer/data/icl.py)
    short_seq: int = 0  # BERT: tokens per sequence in the first 90 % of the steps (0: the full context throughout)
    warmup: float = 0.05  # share of the steps spent warming up linearly
    min_lr: float = 0.1  # the cosine decays to this share of lr
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    dropout: float | None = None  # None: each architecture's own default
    checkpoint_every: int = 0  # steps; 0: a tenth of the run
    eval_every: int = 0  # steps; 0: a twentieth of the run

    def __post_init__(self):
        spec = family(self.family)  # an unknown family: a message listing them
        self.corpus, self.out = os.fspath(self.corpus), os.fspath(self.out)  # saved as JSON in the checkpoint
        self.name = self.name or f"{self.family}-tiny"
        if self.name in TINY and TINY[self.name]["family"] != self.family:
            raise ExplorerError(f"{self.name} is a {TINY[self.name]['family']} model, not {self.family}: "
                                "choose another --name")
        self.size = TINY.get(self.name, TINY[spec.tiny_name])["size"] | dict(self.size)
        check_size(spec, self.size)
        self.corpus = str(Path(self.corpus).expanduser().resolve())
        self.out = str(Path(self.out).expanduser().resolve())
        for what, value, low, high in (("--icl-share", self.icl_share, 0, 0.9), ("--warmup", self.warmup, 0, 1)):
            if not low <= value <= high:
                raise ExplorerError(f"{what} {value} is outside [{low}, {high}]")
        if self.short_seq and (spec.objective != "masked" or not 8 <= self.short_seq < self.size["context"]):
            raise ExplorerError(f"--short-seq {self.short_seq} applies to masked LMs (BERT) only, between 8 and its "
                                f"context ({self.size.get('context')}) tokens")
        for what, value in (("--tokens", self.tokens), ("--batch-size", self.batch_size), ("--lr", self.lr)):
            if value <= 0:
                raise ExplorerError(f"{what} must be positive, got {value}")

    @classmethod
    def from_args(cls, args) -> "TrainConfig":
        """The run that parsed `train` flags (explorer/training/cli.py) describe."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    def argv(self) -> list[str]:
        """The `train` arguments that give this configuration (from_args reads them back)."""
        size = ",".join(f"{k}={v}" for k, v in self.size.items())
        parts = [self.family, "--corpus", self.corpus, "--tokens", str(self.tokens), "--out", self.out,
                 "--name", self.name, "--size", size, "--batch-size", str(self.batch_size), "--lr", str(self.lr),
                 "--warmup", str(self.warmup), "--seed", str(self.seed)]
        if family(self.family).causal:  # only causal LMs read key value documents
            parts += ["--icl-share", str(self.icl_share)]
        if self.dropout is not None:
            parts += ["--dropout", str(self.dropout)]
        for flag, steps in (("--short-seq", self.short_seq), ("--checkpoint-every", self.checkpoint_every),
                            ("--eval-every", self.eval_every)):
            if steps:  # 0: the default
                parts += [flag, str(steps)]
        return parts

    def command(self, world: int) -> str:
        """The command line that reproduces this run."""
        launcher = f"torchrun --nproc_per_node {world} -m explorer" if world > 1 else "python -m explorer"
        return f"{launcher} train {shlex.join(self.argv())}"


def check_size(spec, size: dict) -> None:
    """Size keys the family's builder accepts, or a message listing them."""
    accepted = [*spec.tiny, *spec.options]
    wrong = sorted(set(size) - set(accepted))
    if wrong:
        raise ExplorerError(f"--size {', '.join(wrong)} do(es) not apply to {spec.display}: use {', '.join(accepted)}")


# -- the checkpoint folder: checkpoint/latest.json names the newest complete step folder
POINTER = "latest.json"


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def step_folder(root: Path, step: int) -> Path:
    return root / f"step-{step:08d}"


def latest(root: Path) -> Path | None:
    pointer = root / POINTER
    if not pointer.exists():
        return None
    folder = root / json.loads(pointer.read_text())["folder"]
    return folder if (folder / "state.json").exists() else None


def read_state(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())
