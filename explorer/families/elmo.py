"""ELMo (Peters et al. 2018): a character CNN under two LSTM language models, one each way.

The network and its readers live in ``elmo_network`` (torch), imported only when a model is built or read.
"""
from .spec import Family


def build(tokenizer, name, **size):
    from .elmo_network import build

    return build(FAMILY, tokenizer, name, **size)


def load(directory, name):
    from .elmo_network import load

    return load(FAMILY, directory, name)


def load_allennlp(options_json, weights_hdf5):
    """AllenNLP's original release: options.json + weights.hdf5."""
    from .elmo_network import load_allennlp

    return load_allennlp(FAMILY, options_json, weights_hdf5)


FAMILY = Family(
    name="elmo", display="ELMo", objective="bidirectional", tokenizer="word", build=build, load=load,
    tiny=dict(d_model=192, cell=768, n_layers=2), quick=dict(d_model=64, cell=256, n_layers=2),
    options=("filters", "n_highway", "char_dim", "activation", "cell_clip", "proj_clip", "dropout", "max_chars"),
    real={"elmo-original (AllenNLP options.json + weights.hdf5)": "93.6M"},
    lens=None, attention=False, usages=("features", "finetune"),
    not_prompted="ELMo's language models exist to give word vectors: its forward LSTM has no attention to look "
                 "things up in a prompt and knows only whole words from its vocabulary, and its backward LM would "
                 "read the answer before the question",
    story=dict(
        date="2018-02", params=93.6e6, use="feature-based",
        paper="Peters et al., Deep contextualized word representations",
        short_arch="char-CNN + 2-layer biLSTM", short_objective="two LMs: left-to-right and right-to-left",
        short_gain="6 tasks' state of the art; SQuAD F1 81.1 → 85.8",
        architecture="Character CNN + highway, then a 2-layer biLSTM with residual connections; separate forward "
                     "and backward language models sharing one softmax",
        objective="biLM: predict the next word left-to-right and the previous word right-to-left",
        data="1B Word Benchmark (~800M tokens)",
        used="Feature-based: frozen, a task-specific learned mix of its layers is fed to each task's own model",
        gain="State of the art on six tasks, e.g. SQuAD F1 81.1 → 85.8, SRL 81.4 → 84.6, NER 90.2 → 92.2"),
)
