HELP = "build the shipped training corpus from ../shared/data, or fetch a named public corpus file"


def add_arguments(parser):
    from ..paths import SHARED_DATA as default_data

    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="assemble train.txt, valid.txt and manifest.json from the shared datasets")
    build.add_argument("--out", required=True, help="folder to write the corpus into")
    build.add_argument("--data", default=str(default_data), help="the shared datasets folder (default: ../shared/data)")
    build.add_argument("--valid-every", type=int, default=50, help="hold out every N-th line for validation")
    build.add_argument("--force", action="store_true", help="rebuild over an existing corpus in --out")
    fetch = sub.add_parser("fetch", help="download a named public corpus file (checked by sha256) into the cache")
    fetch.add_argument("name", help="e.g. wikitext2/valid, gutenberg/carroll-alice, ewt/train")
    fetch.add_argument("--cache", help="cache folder (default: $LT_HOME/corpora)")
    fetch.add_argument("--mirror", help="a URL or folder laid out like ../shared/data to fetch from instead")


def run(args):
    from ..data import corpus

    if args.action == "fetch":
        print(corpus.fetch_named(args.name, args.cache or corpus.CACHE, args.mirror))
        return 0
    if args.valid_every < 2:
        from ..errors import ExplorerError

        raise ExplorerError("--valid-every must be at least 2")
    manifest = corpus.build_shipped_corpus(args.data, args.out, args.valid_every, args.force)
    for source in manifest["sources"]:
        print(f"{source['name']:<32} {source['lines']:>8,} lines {source['tokens']:>10,} tokens")
    for split in ("train", "valid"):
        print(f"{split + '.txt':<32} {manifest[split]['lines']:>8,} lines {manifest[split]['tokens']:>10,} tokens")
    print(f"wrote {args.out}/train.txt, valid.txt and manifest.json")
    return 0
