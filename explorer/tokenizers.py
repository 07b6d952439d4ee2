"""The four tokenizer kinds of the five families, trained with HF ``tokenizers``.

Every kind is wrapped as a ``PreTrainedTokenizerFast`` so that shipped and real checkpoints
are read the same way, and character offsets map tokens back to words.
"""
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from .errors import ExplorerError
from .text import WORD_PATTERN

EOS = "<|endoftext|>"
# The kinds (each family's spec names its own): GPT's lower-cased BPE with end-of-word markers, BERT's
# uncased WordPiece, GPT-2/GPT-3's byte-level BPE, and ELMo's whole words (characters go to its CNN).
# The same word split as explorer.text.split_words, so ELMo's vocabulary matches its input words.
_WORD_SPLIT = pre_tokenizers.Sequence([
    pre_tokenizers.WhitespaceSplit(),
    pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated"),
])


def _bpe(vocab_size):
    tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", EOS], end_of_word_suffix="</w>")
    specials = dict(unk_token="<unk>", eos_token=EOS, pad_token=EOS)
    return tok, trainer, specials


def _wordpiece(vocab_size):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
    named = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    named["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
    return tok, trainer, named


def _byte_bpe(vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    return tok, trainer, dict(eos_token=EOS, bos_token=EOS, unk_token=EOS, pad_token=EOS)


def _word(vocab_size):
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = _WORD_SPLIT
    specials = ["<pad>", "<unk>", "<S>", "</S>"]
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=specials)
    return tok, trainer, dict(pad_token="<pad>", unk_token="<unk>", bos_token="<S>", eos_token="</S>")


_BUILDERS = {"bpe": _bpe, "wordpiece": _wordpiece, "byte_bpe": _byte_bpe, "word": _word}


def train_tokenizer(kind: str, lines: Iterable[str], vocab_size: int, max_len: int) -> PreTrainedTokenizerFast:
    """Train a tokenizer of ``kind`` on ``lines`` of text."""
    if kind not in _BUILDERS:
        raise ExplorerError(f"unknown tokenizer kind {kind!r}: one of {sorted(_BUILDERS)}")
    tok, trainer, specials = _BUILDERS[kind](vocab_size)
    tok.train_from_iterator(lines, trainer=trainer)
    if tok.get_vocab_size() <= len(specials):
        raise ExplorerError("the tokenizer learned no vocabulary: the corpus is empty")
    if kind == "wordpiece":
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_len, **specials)
