"""One training loop for every family: AdamW, linear warmup + cosine decay, clipping, checkpoints, metrics.

Runs on CPU, CUDA or MPS (bf16 autocast on CUDA), alone or data-parallel under torchrun: every rank
builds the same global batch and trains on its slice, so the result does not depend on the number of
processes. ``OUT/metrics.jsonl`` gets one JSON line per logged step (the app draws it live);
``OUT/checkpoint/`` holds the latest resumable state; the finished model and its card.json go to OUT.
"""
import json
import math
import os
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..data.corpus import load_corpus
from ..distributed import Runtime, join_job, pick_device
from ..errors import ExplorerError
from ..families import build, family
from ..tokenizers import train_tokenizer
from ..zoo import ROOT, VOCAB_SIZE
from . import checkpoint as ckpt
from .config import CHECKPOINT, METRICS, PREPARING, PREPARING_STAGES, TrainConfig, latest, read_state, step_folder
from .objectives import BiLM, CausalLM, MaskedLM

EVAL_SEQUENCES = 32  # sequences per periodic validation; the final one reads the whole validation slice


# -- processes and devices ---------------------------------------------------------------------------

def start_runtime(device: str) -> Runtime:
    """One process, or one rank of a torchrun job (gloo on CPU, nccl on CUDA)."""
    return join_job(pick_device(device))


def hardware(runtime: Runtime) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    dev = runtime.device
    return dict(device=str(dev), processes=runtime.world, cpu=cpu, cpu_threads=torch.get_num_threads(),
                gpu=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
                dtype="bfloat16 autocast" if dev.type == "cuda" else "float32",
                torch=torch.__version__, python=platform.python_version())


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


# -- the output folder -------------------------------------------------------------------------------

def prepare_out(out: Path, resume: bool, force: bool) -> Path | None:
    """Check the output folder; return the checkpoint to resume from, if any. Never overwrites silently."""
    root = out / CHECKPOINT
    if (out / "config.json").exists() and resume:
        raise ExplorerError(f"{out} holds a finished model: there is nothing to resume")
    if (out / "config.json").exists() and not force:
        raise ExplorerError(f"{out} already holds a finished model: choose another --out, or pass --force to "
                            "train a new one over it")
    found = latest(root) if root.exists() else None
    if resume:
        if found is None:
            raise ExplorerError(f"{out} has no checkpoint to resume from: start a run without --resume")
        return found
    if found is not None and not force:
        raise ExplorerError(f"{out} holds an unfinished run (checkpoint at step {read_state(found)['step']}): "
                            "pass --resume to continue it, or --force to start over")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ExplorerError(f"cannot write to {out} ({e.strerror}): choose a folder you can write to") from None
    if force:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        (out / METRICS).unlink(missing_ok=True)
    return None


def resumed_config(folder: Path, asked: TrainConfig) -> TrainConfig:
    """The checkpoint's own settings: resuming continues that run, whatever else the command line says."""
    saved = read_state(folder)["config"]
    if saved["family"] != asked.family:
        raise ExplorerError(f"{asked.out} holds a {saved['family']} checkpoint, not {asked.family}: resume it with "
                            f"`train {saved['family']} --resume`, or train {asked.family} into another --out")
    if Path(asked.corpus) != Path(saved["corpus"]):
        raise ExplorerError(f"the checkpoint was trained on {saved['corpus']}, not {asked.corpus}: resume with the "
                            "same --corpus")
    return TrainConfig(**(saved | dict(out=asked.out)))


# -- schedule and optimizer ---------------------------------------------------------------------------

def learning_rate(step: int, steps: int, config: TrainConfig) -> float:
    """Linear warmup to lr, then cosine decay to min_lr * lr at the last step."""
    warmup = max(1, round(config.warmup * steps))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return config.lr * (config.min_lr + (1 - config.min_lr) * 0.5 * (1 + math.cos(math.pi * progress)))


def due(step: int, steps: int, log_every: int, eval_every: int) -> tuple[bool, bool]:
    """(log a record, validate) after ``step``: a validation is logged even between two logging steps."""
    validate = step % eval_every == 0 or step == steps
    return validate or step % log_every == 0, validate


def make_optimizer(net: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and other vectors."""
    params = [p for p in net.parameters() if p.requires_grad]
    groups = [dict(params=[p for p in params if p.dim() >= 2], weight_decay=config.weight_decay),
              dict(params=[p for p in params if p.dim() < 2], weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95), fused=device.type == "cuda")


def make_objective(spec, tokenizer, corpus, config, net):
    """The pretraining objective of the family's kind (spec.objective)."""
    if spec.objective == "bidirectional":
        return BiLM(tokenizer, corpus.train, corpus.valid, config.seed, net.max_chars)
    if spec.objective == "masked":
        return MaskedLM(tokenizer, corpus.train, corpus.valid, config.size["context"], config.seed, config.short_seq)
    return CausalLM(tokenizer, corpus.train, corpus.valid, config.size["context"], config.seed, config.icl_share)


def set_dropout(net: torch.nn.Module, p: float | None) -> None:
    if p is not None:
        for m in net.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = p


# -- evaluation ---------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(module, batches, runtime: Runtime, summarise) -> dict:
    module.eval()
    sums = {}
    for batch in batches:
        with autocast(runtime.device):
            _, stats = module(batch.norm, **to_device(batch.rows(0, batch.size), runtime.device))
        add_stats(sums, stats)
    module.train()
    return summarise({k: (float(s), float(n)) for k, (s, n) in sums.items()})


def autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def to_device(tensors: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in tensors.items()}


def add_stats(sums: dict, stats: dict) -> None:
    for k, (s, n) in stats.items():
        old = sums.get(k, (0.0, 0.0))
        sums[k] = (old[0] + s.detach().float(), old[1] + n.detach().float())


# -- the loop -----------------------------------------------------------------------------------------

class Trainer:
    def __init__(self, config: TrainConfig, resume: bool = False, force: bool = False, device: str = "auto",
                 progress: bool = True):
        self.runtime = rt = start_runtime(device)
        self.progress = progress
        out = Path(config.out)
        self.root = out / CHECKPOINT
        resume_from = prepare_out(out, resume, force) if rt.main else None
        rt.barrier()
        if resume and not rt.main:
            resume_from = latest(self.root)
        self.config = config = resumed_config(resume_from, config) if resume else config
        self.out = out
        self._preparing(1, "reading the corpus")
        self.corpus = load_corpus(config.corpus)
        self._preparing(2, "training the tokenizer" if resume_from is None else "loading the tokenizer")
        self.tokenizer = self._tokenizer(resume_from)
        self._preparing(3, "building the model")
        torch.manual_seed(config.seed)  # the same initial weights on every rank
        self.model = build(config.family, self.tokenizer, config.name, **config.size)
        self.net = self.model.net.to(rt.device).train()
        set_dropout(self.net, config.dropout)
        if hasattr(self.net, "set_attn_implementation") and getattr(self.net, "_supports_sdpa", False):
            self.net.set_attn_implementation("sdpa")  # faster; eager comes back before the model is returned
        self._preparing(4, "tokenizing the corpus into training sequences")
        self.objective = make_objective(self.model.spec, self.tokenizer, self.corpus, config, self.net)
        per_step = config.batch_size * getattr(self.objective, "mean_tokens", self.objective.seq_len)
        if config.tokens < per_step:
            raise ExplorerError(f"--tokens {config.tokens:,} is smaller than one batch ({config.batch_size} sequences, "
                                f"about {per_step:,.0f} tokens): raise --tokens or lower --batch-size")
        if config.batch_size % rt.world:
            raise ExplorerError(f"--batch-size {config.batch_size} does not split over {rt.world} processes")
        self.steps = math.ceil(config.tokens / per_step)
        self.objective.plan(self.steps, config.batch_size)
        self.optimizer = make_optimizer(self.net, config, rt.device)
        self.module = self.objective.module(self.net)
        self.train_module = self.module
        if rt.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [rt.device.index] if rt.device.type == "cuda" else None
            self.train_module = DistributedDataParallel(self.module, device_ids=ids)
        self.step, self.tokens_seen, self.elapsed, self.last_val = 0, 0, 0.0, {}
        if resume:
            self._restore(resume_from)
        else:
            torch.manual_seed(config.seed + rt.rank)  # dropout differs between ranks, as separate batches would

    def _preparing(self, stage: int, what: str) -> None:
        """A line in the run's log before training starts: the Train page shows it with a progress bar."""
        if self.runtime.main:
            print(f"{PREPARING} ({stage}/{PREPARING_STAGES}): {what}", flush=True)

    def _tokenizer(self, resume_from):
        from transformers import PreTrainedTokenizerFast

        folder = self.root / "tokenizer"
        if resume_from is None and self.runtime.main:
            context = self.config.size.get("context", 10_000)
            tok = train_tokenizer(family(self.config.family).tokenizer, self.corpus.train, VOCAB_SIZE, context)
            tok.save_pretrained(folder)
        self.runtime.barrier()
        return PreTrainedTokenizerFast.from_pretrained(str(folder))

    def _restore(self, folder: Path):
        state = read_state(folder)
        ckpt.load_weights(folder, self.net, self.optimizer)
        ckpt.load_rng(folder, self.runtime.rank)
        self.step, self.tokens_seen, self.elapsed = state["step"], state["tokens"], state["elapsed_s"]
        self.last_val = state.get("last_val", {})
        if self.runtime.main:  # drop metrics logged after the checkpoint: the resumed run logs them again
            path = self.out / METRICS
            if path.exists():
                kept = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= self.step]
                tmp = path.with_name(f".{METRICS}.tmp")
                tmp.write_text("".join(ln + "\n" for ln in kept))
                os.replace(tmp, path)

    def _every(self, value, share):
        return value or max(1, self.steps // share)

    def run(self):
        """Train to the token budget; return the saved model's folder."""
        rt, config = self.runtime, self.config
        ckpt_every, eval_every = self._every(config.checkpoint_every, 10), self._every(config.eval_every, 20)
        log_every = max(1, self.steps // 500)
        per_rank = config.batch_size // rt.world
        bar = tqdm(total=self.steps, initial=self.step, desc=f"training {config.name}", unit="step",
                   disable=not (self.progress and rt.main), mininterval=1 if sys.stderr.isatty() else 30)
        sums, window_tokens, window_start = {}, 0, time.perf_counter()
        while self.step < self.steps:
            lr = learning_rate(self.step, self.steps, config)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            batch = self.objective.batch(self.step * config.batch_size, config.batch_size)
            rows = to_device(batch.rows(rt.rank * per_rank, (rt.rank + 1) * per_rank), rt.device)
            with autocast(rt.device):
                loss, stats = self.train_module(batch.norm, **rows)
            (loss * rt.world).backward()  # DDP averages gradients; the loss is already over the global batch
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), config.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            add_stats(sums, stats)
            tokens = self.objective.tokens(batch)
            self.tokens_seen += tokens
            window_tokens += tokens
            self.step += 1
            bar.update(1)
            log, validate = due(self.step, self.steps, log_every, eval_every)
            if log:
                now = time.perf_counter()
                self.elapsed += now - window_start
                train = self.objective.summarise(self._reduce(sums))
                record = dict(step=self.step, tokens=self.tokens_seen, loss=round(train["loss"], 5), lr=lr,
                              tokens_per_s=round(window_tokens / max(now - window_start, 1e-9), 1),
                              elapsed_s=round(self.elapsed, 2))
                if validate:
                    self.last_val = self.validate(EVAL_SEQUENCES)
                    record |= dict(val_loss=round(self.last_val["loss"], 5), val_ppl=round(self.last_val["ppl"], 3))
                if rt.main:
                    with open(self.out / METRICS, "a") as f:
                        f.write(json.dumps(record) + "\n")
                bar.set_postfix(loss=f"{train['loss']:.3f}", tok_s=f"{record['tokens_per_s']:,.0f}",
                                **({"val": f"{record['val_loss']:.3f}"} if "val_loss" in record else {}))
                sums, window_tokens, window_start = {}, 0, time.perf_counter()
            if self.step % ckpt_every == 0 and self.step < self.steps:
                self.save_checkpoint()
                window_start = time.perf_counter()  # checkpoint time is not training time
        bar.close()
        return self.finish()

    def _reduce(self, sums: dict) -> dict:
        """Statistics summed over every rank's slice, so logged losses are the global batch's."""
        keys = sorted(sums)
        flat = torch.tensor([float(v) for k in keys for v in sums[k]], dtype=torch.float64)
        if self.runtime.world > 1:
            torch.distributed.all_reduce(flat)
        return {k: (float(flat[2 * i]), float(flat[2 * i + 1])) for i, k in enumerate(keys)}

    def validate(self, max_sequences: int | None, split: str = "valid") -> dict:
        batches = self.objective.eval_batches(split, max_sequences, self.config.batch_size)
        return evaluate(self.module, batches, self.runtime, self.objective.summarise)

    def save_checkpoint(self):
        rt, folder = self.runtime, step_folder(self.root, self.step)
        if rt.main:
            folder.mkdir(parents=True, exist_ok=True)
        rt.barrier()
        ckpt.save_rng(folder, rt.rank)
        if rt.main:
            state = dict(step=self.step, tokens=self.tokens_seen, elapsed_s=self.elapsed, steps=self.steps,
                         world=rt.world, last_val=self.last_val, config=asdict(self.config),
                         data_position=dict(next_sequence=self.step * self.config.batch_size))
            ckpt.save_state(folder, self.net, self.optimizer, state)
        rt.barrier()
        if rt.main:
            ckpt.publish(self.root, self.step)

    def finish(self) -> Path:
        """Final validation on the whole held-out slice, an equal-sized training sample, then the model and card."""
        rt, config = self.runtime, self.config
        if rt.main:
            valid = self.validate(None)
            n_valid = sum(b.size for b in self.objective.eval_batches("valid", None, config.batch_size))
            train = self.validate(n_valid, split="train")
            if hasattr(self.net, "set_attn_implementation"):
                self.net.set_attn_implementation("eager")
            self.net.to("cpu").eval()
            self.model.save(self.out, self.card(train, valid))
            import shutil

            shutil.rmtree(self.root, ignore_errors=True)  # the model is safe: its checkpoint is no longer needed
        rt.barrier()
        return self.out

    def card(self, train: dict, valid: dict) -> dict:
        config, rt = self.config, self.runtime
        results = dict(train_loss=train["loss"], train_ppl=train["ppl"], val_loss=valid["loss"], val_ppl=valid["ppl"])
        results |= {f"val_{k}": v for k, v in valid.items() if k not in ("loss", "ppl")}
        results |= {f"train_{k}": v for k, v in train.items() if k not in ("loss", "ppl")}
        return dict(
            name=config.name, family=config.family, objective=self.objective.name, params=self.model.n_params,
            size=config.size, vocab_size=len(self.tokenizer),
            corpus=dict(path=config.corpus, manifest=self.corpus.manifest,
                        model_tokens=dict(train=self._model_tokens("train"), valid=self._model_tokens("valid"))),
            training=dict(steps=self.steps, tokens_seen=self.tokens_seen, token_budget=config.tokens,
                          batch_size=config.batch_size, sequence_length=self.objective.seq_len, lr=config.lr,
                          schedule=f"linear warmup over {config.warmup:.0%} of the steps, cosine decay to "
                                   f"{config.min_lr:g} x lr", optimizer="AdamW (0.9, 0.95)",
                          weight_decay=config.weight_decay, grad_clip=config.grad_clip, seed=config.seed,
                          icl_share=config.icl_share if self.model.causal else 0.0, dropout=config.dropout,
                          **({"short_seq": config.short_seq} if self.objective.name == MaskedLM.name else {})),
            results=results, wall_time_s=round(self.elapsed, 3), hardware=hardware(rt),
            git_commit=git_commit(), command=config.command(rt.world),
        )

    def _model_tokens(self, split: str) -> int:
        """The corpus split's length in this model's own tokens."""
        objective = self.objective
        if isinstance(objective, CausalLM):
            return len(objective.train_stream if split == "train" else objective.valid_stream)
        if isinstance(objective, MaskedLM):
            return sum(map(len, objective.train_ids if split == "train" else objective.valid_ids))
        windows = objective.train_windows if split == "train" else objective.valid_windows
        return sum(map(objective._n_targets, windows))


def train(config: TrainConfig, *, resume: bool = False, force: bool = False, device: str = "auto",
          progress: bool = True) -> Path:
    """Train (or resume) a model as ``config`` says; return the folder of the saved model."""
    return Trainer(config, resume=resume, force=force, device=device, progress=progress).run()
