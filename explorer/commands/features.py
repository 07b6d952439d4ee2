"""`[torchrun --nproc-per-node N] -m explorer features --model M --data FILE [--data FILE ...] [--cache DIR]`."""
HELP = ("word vectors of every layer for POS files, cached where `probe pos` reads them; under torchrun each "
        "process traces a share of the batches")


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="shipped name, checkpoint folder or Hugging Face id")
    parser.add_argument("--data", action="append", required=True, metavar="FILE",
                        help="a POS file as `probe pos` reads it (.conllu, .pos, word/TAG, columns); repeat for "
                             "train, test and dev")
    parser.add_argument("--limit", type=int, help="only the first N sentences (as probe pos --train-limit or "
                                                  "--test-limit, so the probe finds the same cache)")
    parser.add_argument("--word-col", type=int, metavar="N", help="a whitespace column file's word column (as "
                                                                  "probe pos --word-col)")
    parser.add_argument("--pool", choices=["first", "mean"], default="first", help="sub-token pooling per word")
    parser.add_argument("--cache", help="feature cache folder (default: ~/.linguistic_travelling/cache/features)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the best available; under "
                                         "torchrun each process on CUDA takes its own GPU)")
    parser.add_argument("--max-tokens", type=int, default=4096, help="padded tokens per batch (default 4096)")


def run(args):
    from ..data.conllu import read_pos_file
    from ..distributed import join_job, pick_device
    from ..features import extract_features
    from ..zoo import load

    job = join_job(pick_device(args.device))  # this process, or its rank of a torchrun job (extract_features joins it)
    model = load(args.model)
    for path in args.data:
        words = [s.words for s in read_pos_file(path, args.limit, word_col=args.word_col)]
        feats = extract_features(model, words, pool=args.pool, cache_dir=args.cache, device=args.device,
                                 max_tokens=args.max_tokens, progress=True)
        if job.main:  # one report per job
            print(f"{path}: {len(feats)} words x {feats.n_layers} layers x {feats.dim} in {feats.directory}")
    return 0
