"""The measured use-and-gain tables from the shipped transfer results, as Markdown.

    python bench/transfer_table.py [RESULTS_DIR ...] > bench/results/transfer_tables.md

Each folder holds a results.jsonl written by `python -m explorer transfer`; per task: accuracy (mean ± spread over
seeds, and the seed count) for every model x mode x method at each n, then the gain over the from-scratch twin.
"""
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explorer.transfer import results  # noqa: E402



def tables(df: pd.DataFrame) -> str:
    out = ["accuracy % (mean ± std over seeds (seeds)); columns: labelled examples n (zero-shot: 0; few-shot: the "
           "k demonstrations in the prompt)", "", results.wide(df).to_markdown(index=False)]
    gains = results.gains(df)
    if not gains.empty:
        out += ["", "gain over the same network trained from scratch (accuracy points, means)", "",
                gains.assign(**{c: (100 * gains[c]).round(1) for c in gains if c.startswith("gain_")})
                .to_markdown(index=False)]
    return "\n".join(out)


def main():
    folders = sys.argv[1:] or results.SHIPPED
    frames = [pd.read_json(Path(f) / results.RESULTS, lines=True) for f in folders if (Path(f) / results.RESULTS).exists()]
    df = pd.concat(frames, ignore_index=True)
    for task, rows in df.groupby("task", sort=False):
        print(f"## {task}\n\n{tables(rows)}\n")
    print(results.PUBLISHED_NOTE)


if __name__ == "__main__":
    main()
