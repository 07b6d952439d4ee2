#!/usr/bin/env bash
# Train the five shipped tiny models (elmo-tiny, gpt-tiny, bert-tiny, gpt2-tiny, gpt3-tiny; sizes from
# explorer/zoo.py TINY) on one corpus with one token budget, each with its own objective.
#
#   python3 -m explorer corpus build --out corpus/     # once, from ../shared/data
#   scripts/train_shipped.sh corpus/ trained/           # then: git add trained/*/ (no checkpoint/ is left)
#
# Environment:
#   TOKENS    token budget of every model (default 30000000, as shipped: one H100/H200 GPU, all five in parallel,
#             about 4-6 minutes; the transformers are launch-bound there, so time goes with steps, not tokens).
#             On 2 CPU cores use TOKENS=1000000: one model at a time, about 20 minutes each for the slowest
#             (ELMo and GPT-3-tiny, ~800-900 tokens/s uncontended; GPT/GPT-2/BERT-tiny are 1-4x faster).
#   PARALLEL  1: all five at once (default when a CUDA GPU is visible), 0: one after another (default on CPU)
#   BATCH     the causal models' sequences per step (default 32), SEED (default 0), DEVICE (default auto), PYTHON (default python3)
#   ICL_SHARE share of the causal models' sequences that are key value documents (default 0.5, see explorer/data/icl.py)
#   GPT3_LR   GPT-3-tiny's peak learning rate (default 6e-4; the other causal models use 1e-3)
#   BATCH_ELMO ELMo's windows per step (default 320), BERT_BATCH, BERT_LR, BERT_WARMUP, BERT_SHORT_SEQ
#             (default 64, 1e-3, 0.05, 32): the shipped settings
#   NAMES     which models (default all five)
#
# Re-running after an interruption resumes each unfinished model from its last checkpoint and skips finished ones.
# Needs only torch, transformers, tokenizers, safetensors and tqdm; run it from the repository root.
set -euo pipefail

corpus=${1:?usage: scripts/train_shipped.sh CORPUS_DIR OUT_DIR}
out=${2:?usage: scripts/train_shipped.sh CORPUS_DIR OUT_DIR}
PYTHON=${PYTHON:-python3}
TOKENS=${TOKENS:-30000000}
BATCH=${BATCH:-32}
SEED=${SEED:-0}
DEVICE=${DEVICE:-auto}
if [[ -z ${PARALLEL:-} ]]; then
  PARALLEL=$("$PYTHON" -c "import torch; print(int(torch.cuda.is_available()))")
fi
read -ra NAMES <<< "${NAMES:-elmo-tiny gpt-tiny bert-tiny gpt2-tiny gpt3-tiny}"
mkdir -p "$out"
if [[ $PARALLEL == 1 ]]; then  # share the CPU cores that feed the GPU
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( ($(nproc) + 4) / 5 ))}
fi

train_one() {
  local name=$1 family=${1%-tiny} extra=() batch=$BATCH
  case $family in
    # ELMo's sequences are windows of whole sentences, up to 64 words (about 49 tokens on this corpus).
    elmo) batch=${BATCH_ELMO:-320} ;;
    # BERT's two phases (Devlin et al. 2019: 90 % of the steps at 128 of 512 tokens): here 32 of 256, without
    # which the tiny BERT never learns to attend by position (bench/results/training_runs.md).
    bert) batch=${BERT_BATCH:-64}; extra=(--lr "${BERT_LR:-0.001}" --warmup "${BERT_WARMUP:-0.05}" --short-seq "${BERT_SHORT_SEQ:-32}") ;;
    # GPT-3 lowered the learning rate as models grew (its Table 2.1: 6e-4 for the smallest); 1e-3 left the
    # 12.6M GPT-3-tiny's key lookup half-formed (retrieval k = 8: 41 % against 100 % at 6e-4).
    gpt3) extra=(--icl-share "${ICL_SHARE:-0.5}" --lr "${GPT3_LR:-0.0006}") ;;
    *) extra=(--icl-share "${ICL_SHARE:-0.5}") ;;
  esac
  if [[ -f $out/$name/config.json ]]; then
    echo "$name: already trained in $out/$name"
    return 0
  fi
  [[ -f $out/$name/checkpoint/latest.json ]] && extra+=(--resume)
  "$PYTHON" -m explorer.training "$family" --corpus "$corpus" --tokens "$TOKENS" --out "$out/$name" --name "$name" \
    --batch-size "$batch" --seed "$SEED" --device "$DEVICE" "${extra[@]}"
}

start=$(date +%s)
declare -A pids
for name in "${NAMES[@]}"; do
  if [[ $PARALLEL == 1 ]]; then
    train_one "$name" >"$out/$name.log" 2>&1 &
    pids[$name]=$!
  else
    train_one "$name" 2>&1 | tee "$out/$name.log"
  fi
done
failed=0
for name in "${!pids[@]}"; do
  wait "${pids[$name]}" || { echo "$name FAILED: see $out/$name.log"; tail -5 "$out/$name.log"; failed=1; }
done
echo "done in $(( $(date +%s) - start )) s; logs in $out/*.log"
for name in "${NAMES[@]}"; do
  [[ -f $out/$name/card.json ]] && "$PYTHON" - "$out/$name/card.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
r, t = card["results"], card["training"]
print(f"{card['name']:<10} {card['params']:>11,} params  {t['tokens_seen']:>12,} tokens  {card['wall_time_s']:>7.0f} s  "
      f"train ppl {r['train_ppl']:8.1f}  val ppl {r['val_ppl']:8.1f}")
PY
done
exit $failed
