HELP = "list the shipped and user-trained models, and the real checkpoints this tool reads"


def add_arguments(parser):
    pass


def run(args):
    import pandas as pd

    from ..zoo import KNOWN_REAL, PACKAGED, installed_real, list_models, load

    rows = [load(name).describe() | {"tokenizer": _tokenizer_kind(name)} for name in list_models() if name not in PACKAGED]
    print("Shipped and trained models:")
    print(pd.DataFrame(rows).to_string(index=False) if rows else "  none yet: train one with `python -m explorer train`")
    print("\nReal models installed as packages (offline):", ", ".join(installed_real()) or "none")
    print("\nReal checkpoints it reads (load by id or local folder):")
    print(pd.DataFrame([dict(model=k, family=f, params=p) for k, (f, p) in KNOWN_REAL.items()]).to_string(index=False))
    return 0


def _tokenizer_kind(name):
    from ..families import family
    from ..zoo import TINY

    return family(TINY[name]["family"]).tokenizer if name in TINY else "from checkpoint"
