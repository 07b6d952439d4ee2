"""ELMo (Peters et al. 2018) as our own PyTorch module, laid out like AllenNLP's.

Words -> UTF-8 bytes as characters -> char embeddings -> CNN filters of several widths (max over time)
-> highway layers -> linear projection (layer 0) -> biLSTM with projections, separate forward and
backward stacks, residual connections from layer 2 on -> one softmax shared by both LM directions.
As in AllenNLP, every sentence is wrapped in <S> ... </S> before the network sees it; the Trace
drops those two positions so that its tokens are exactly the input words.
"""
import json
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import ExplorerError, TruncationWarning
from ..trace import Trace
from .base import Model, NetworkInputs, make_items

MAX_CHARS = 50
# AllenNLP's ELMoCharacterMapper: bytes 0-255, then these, all shifted by +1 so that 0 pads.
BOS_CHAR, EOS_CHAR, BOW_CHAR, EOW_CHAR, PAD_CHAR = 256, 257, 258, 259, 260
N_CHARACTERS = 262  # 261 character ids + the all-padding id 0
BOS, EOS = "<S>", "</S>"
DEFAULT_FILTERS = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256))
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}
# torch falls back from oneDNN to its own kernel for projected LSTMs and says so; nothing for users to act on.
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")


def _boundary_chars(marker: int, max_chars: int) -> list[int]:
    ids = [PAD_CHAR] * max_chars
    ids[:3] = [BOW_CHAR, marker, EOW_CHAR]
    return [c + 1 for c in ids]


def word_chars(word: str, max_chars: int = MAX_CHARS) -> list[int]:
    """One word's character ids: begin-of-word, its UTF-8 bytes (cut to fit), end-of-word, padding."""
    if word == BOS:
        return _boundary_chars(BOS_CHAR, max_chars)
    if word == EOS:
        return _boundary_chars(EOS_CHAR, max_chars)
    data = word.encode("utf-8", "ignore")[: max_chars - 2]
    ids = [BOW_CHAR, *data, EOW_CHAR] + [PAD_CHAR] * (max_chars - len(data) - 2)
    return [c + 1 for c in ids]


def char_ids(words_batch: list[list[str]], max_chars: int = MAX_CHARS) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded character ids [B, T, max_chars] and mask [B, T] for sentences wrapped in <S> ... </S>.

    T is the longest sentence's word count + 2; position 0 is <S>, position len(words) + 1 is </S>.
    """
    longest = max(len(words) for words in words_batch) + 2
    chars = torch.zeros(len(words_batch), longest, max_chars, dtype=torch.long)
    for b, words in enumerate(words_batch):
        chars[b, : len(words) + 2] = torch.tensor([word_chars(w, max_chars) for w in [BOS, *words, EOS]])
    return chars, chars[..., 0] > 0


def word_ids(tokenizer, words_batch: list[list[str]]) -> torch.Tensor:
    """Vocabulary ids [B, T] aligned with ``char_ids``: <S>, the words (unknown -> <unk>), </S>, then padding."""
    longest = max(len(words) for words in words_batch) + 2
    ids = torch.full((len(words_batch), longest), tokenizer.pad_token_id, dtype=torch.long)
    for b, words in enumerate(words_batch):
        ids[b, : len(words) + 2] = torch.tensor(tokenizer.convert_tokens_to_ids([BOS, *words, EOS]))
    return ids


class Highway(nn.Module):
    """TF/bilm layout: t = sigmoid(x W_carry + b_carry); y = t * relu(x W_transform + b_transform) + (1 - t) * x."""

    def __init__(self, width: int):
        super().__init__()
        self.transform = nn.Linear(width, width)
        self.carry = nn.Linear(width, width)

    def forward(self, x):
        gate = torch.sigmoid(self.carry(x))
        return gate * torch.relu(self.transform(x)) + (1 - gate) * x


class CharEncoder(nn.Module):
    """Character CNN -> highway layers -> projection: ELMo's context-free token layer."""

    def __init__(self, d_model, filters, n_highway, char_dim, activation):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ExplorerError(f"unknown char-CNN activation {activation!r}: use one of {sorted(ACTIVATIONS)}")
        self.activation = activation
        self.char_embedding = nn.Embedding(N_CHARACTERS, char_dim, padding_idx=0)
        self.convolutions = nn.ModuleList(nn.Conv1d(char_dim, n, width) for width, n in filters)
        n_filters = sum(n for _, n in filters)
        self.highways = nn.ModuleList(Highway(n_filters) for _ in range(n_highway))
        self.projection = nn.Linear(n_filters, d_model)

    def forward(self, chars):
        batch, length, max_chars = chars.shape
        # A word's vector depends on its characters alone: encode each distinct word of the batch once
        words, where = torch.unique(chars.view(-1, max_chars), dim=0, return_inverse=True)
        x = self.char_embedding(words).transpose(1, 2)
        act = ACTIVATIONS[self.activation]
        x = torch.cat([act(conv(x).max(dim=-1).values) for conv in self.convolutions], dim=-1)
        for highway in self.highways:
            x = highway(x)
        return self.projection(x)[where].view(batch, length, -1)


def _reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first ``length`` steps, leaving padding where it is (its own inverse)."""
    steps = torch.arange(x.shape[1], device=x.device)
    index = lengths[:, None] - 1 - steps
    index = torch.where(index >= 0, index, steps).to(x.device)
    return x.gather(1, index[..., None].expand_as(x))


def _clipped_lstm(lstm: nn.LSTM, x, cell_clip, proj_clip):
    """The projected LSTM step by step, clipping the cell and the projected state as AllenNLP/TF do."""
    w_ih, w_hh, w_hr = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.weight_hr_l0
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = x.new_zeros(x.shape[0], w_hr.shape[0])
    c = x.new_zeros(x.shape[0], w_hr.shape[1])
    gates_in = x @ w_ih.T + bias
    outputs = []
    for t in range(x.shape[1]):
        i, f, g, o = (gates_in[:, t] + h @ w_hh.T).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if cell_clip:
            c = c.clamp(-cell_clip, cell_clip)
        h = (torch.sigmoid(o) * torch.tanh(c)) @ w_hr.T
        if proj_clip:
            h = h.clamp(-proj_clip, proj_clip)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


class ElmoNet(nn.Module):
    """The whole biLM. ``forward(char_ids, mask)`` -> hidden [L+1, B, T, 2d] and both LMs' logits [B, T, V].

    forward_logits[:, t] score word t+1, backward_logits[:, t] score word t-1 (None without a softmax,
    as in AllenNLP releases). Padding never reaches real positions: the forward stack runs left to
    right, the backward stack over each sequence reversed within its length, so padding always comes last.
    """

    def __init__(self, vocab_size, d_model, cell, n_layers, filters=DEFAULT_FILTERS, n_highway=2, char_dim=16,
                 activation="relu", cell_clip=None, proj_clip=None, dropout=0.1, max_chars=MAX_CHARS):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, d_model=d_model, cell=cell, n_layers=n_layers,
                           filters=[list(f) for f in filters], n_highway=n_highway, char_dim=char_dim,
                           activation=activation, cell_clip=cell_clip, proj_clip=proj_clip, dropout=dropout,
                           max_chars=max_chars)
        self.max_chars = max_chars
        self.cell_clip, self.proj_clip = cell_clip, proj_clip
        self.char_encoder = CharEncoder(d_model, filters, n_highway, char_dim, activation)
        self.forward_lstms = nn.ModuleList(self._lstm(d_model, cell) for _ in range(n_layers))
        self.backward_lstms = nn.ModuleList(self._lstm(d_model, cell) for _ in range(n_layers))
        self.dropout = nn.Dropout(dropout)
        self.softmax = nn.Linear(d_model, vocab_size) if vocab_size else None

    @staticmethod
    def _lstm(d_model, cell):
        lstm = nn.LSTM(d_model, cell, proj_size=d_model, batch_first=True)
        with torch.no_grad():  # forget-gate bias 1 (Jozefowicz et al. 2015), as AllenNLP initialises it
            lstm.bias_hh_l0[cell: 2 * cell].fill_(1.0)
        return lstm

    def token_embedding(self, chars: torch.Tensor) -> torch.Tensor:
        """[B, T, d]: the char-CNN token layer (layer 0 before duplication)."""
        return self.char_encoder(chars)

    def _direction(self, lstm, x):
        """Left to right over [B, T, d]; padding sits after each sequence, so it never flows into it."""
        if self.cell_clip or self.proj_clip:
            return _clipped_lstm(lstm, x, self.cell_clip, self.proj_clip)
        return lstm(x)[0]

    def forward(self, chars: torch.Tensor, mask: torch.Tensor, with_logits: bool = True) -> dict:
        keep = mask[..., None].to(torch.float32)
        lengths = mask.sum(dim=1)
        tokens = self.token_embedding(chars) * keep
        hidden = [torch.cat([tokens, tokens], dim=-1)]
        forward_in, backward_in = tokens, _reverse_within(tokens, lengths)
        for layer, (f_lstm, b_lstm) in enumerate(zip(self.forward_lstms, self.backward_lstms)):
            forward_out = self._direction(f_lstm, self.dropout(forward_in))
            backward_out = self._direction(b_lstm, self.dropout(backward_in))
            if layer > 0:  # residual connection, as AllenNLP's ElmoLstm
                forward_out, backward_out = forward_out + forward_in, backward_out + backward_in
            forward_in, backward_in = forward_out * keep, backward_out * keep
            hidden.append(torch.cat([forward_in, _reverse_within(backward_in, lengths)], dim=-1))
        out = dict(hidden=torch.stack(hidden), forward_logits=None, backward_logits=None)
        if with_logits and self.softmax is not None:
            top = hidden[-1]
            d = top.shape[-1] // 2
            out["forward_logits"] = self.softmax(self.dropout(top[..., :d]))
            out["backward_logits"] = self.softmax(self.dropout(top[..., d:]))
        return out


class ElmoModel(Model):
    """ELMo behind the common Trace interface: tokens are the words, three layers, no attention."""

    n_heads = 0
    max_len = 10_000  # positions, <S> and </S> included: an LSTM has no fixed context, this bounds memory

    def __init__(self, net: "ElmoNet", tokenizer, name, spec, card=None):
        super().__init__(net, tokenizer, name, spec, card)
        self.n_layers = net.config["n_layers"]
        self.d_model = net.config["d_model"]

    def token_counts(self, inputs) -> list[int]:
        return [min(len(item.words), self.max_len - 2) + 2 for item in make_items(inputs)]

    def _network_inputs(self, items):
        """Characters of <S>, the words, </S>: word j sits at position j + 1."""
        words_batch = [item.words for item in items]
        room = self.max_len - 2  # like [CLS]/[SEP] for BERT, <S> and </S> count against the limit
        truncated = [len(words) > room for words in words_batch]
        if any(truncated):
            n = max(len(words) for words in words_batch)
            warnings.warn(f"input of {n} words cut to {self.name}'s limit of {room}", TruncationWarning)
            words_batch = [words[:room] for words in words_batch]
        chars, mask = char_ids(words_batch, self.net.max_chars)
        return NetworkInputs(dict(chars=chars, mask=mask), mask, [list(range(1, len(w) + 1)) for w in words_batch],
                             [list(range(len(w))) for w in words_batch], truncated)

    @torch.no_grad()
    def _run(self, items, attentions, logits):
        batch = self._network_inputs(items)
        out = self.net(**{k: v.to(self.device) for k, v in batch.inputs.items()}, with_logits=logits)
        words_batch = [item.words[:len(p)] for item, p in zip(items, batch.positions)]
        ids = word_ids(self.tokenizer, words_batch)
        traces = []
        for b, words in enumerate(words_batch):
            real = slice(1, len(words) + 1)  # drop <S> and </S>
            scores = None
            if out["forward_logits"] is not None:
                scores = torch.stack([out["forward_logits"][b, real], out["backward_logits"][b, real]])
            traces.append(Trace(
                model=self.name, family=self.family, tokens=list(words), words=list(words),
                word_ids=list(range(len(words))), input_ids=ids[b, real].clone(),
                hidden=out["hidden"][:, b, real].clone(), attentions=None, logits=scores,
                truncated=batch.truncated[b],
            ))
        return traces

    # -- words in: the analyses' entry points (trace() reads texts) -------------------------------------
    def input_embedding(self) -> nn.Module:
        """The char-CNN token layer: the layer attribution explains the output through."""
        return self.net.char_encoder

    @property
    def has_softmax(self) -> bool:
        """Whether its LMs can score words (AllenNLP releases ship without the softmax)."""
        return self.net.softmax is not None

    def word_inputs(self, words: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """What the network reads for one sentence: character ids [1, n + 2, max_chars] of <S>, the words, </S>
        (word i at position i + 1), and the mask [1, n + 2]."""
        return char_ids([words], self.net.max_chars)

    def word_log_probs(self, chars, mask, index: int, directions=("forward", "backward")) -> dict[str, torch.Tensor]:
        """Log-probabilities [B, V] for word ``index`` from each LM in ``directions``, and from them together as
        "both" (log p_forward + log p_backward, renormalised). Gradients flow where enabled.

        With <S> prepended the word sits at position index + 1: the forward LM predicts it from position index,
        the backward LM from position index + 2.
        """
        out = self.net(chars, mask)
        scores = {"forward": out["forward_logits"][:, index], "backward": out["backward_logits"][:, index + 2]}
        per = {d: scores[d].log_softmax(-1) for d in directions}
        return per | {"both": sum(per.values()).log_softmax(-1)}

    # -- training through the model (see Model) ------------------------------------------------------------
    def hidden_states(self, inputs, lm_labels=None):
        if lm_labels is not None:
            raise ExplorerError(f"{self.name}: ELMo's two language models take no next-token labels here")
        return self.net(**inputs, with_logits=False)["hidden"], None

    def _fresh_network(self):
        return ElmoNet(**self.net.config)  # it keeps its constructor's arguments as its config

    def save(self, directory, card=None):
        """config.json (family + hyper-parameters), float16 model.safetensors, tokenizer files, card.json.

        Like HFModel.save, the weights in memory are rounded to float16 too, so the saved and the
        live model trace identically.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(p.half().float())
        save_file({k: v.half().contiguous() for k, v in self.net.state_dict().items()},
                  str(directory / "model.safetensors"))
        (directory / "config.json").write_text(json.dumps(dict(family="elmo", **self.net.config), indent=2))
        self.tokenizer.save_pretrained(directory)
        card = card if card is not None else self.card
        (directory / "card.json").write_text(json.dumps(card, indent=2))
        return directory


def build(spec, tokenizer, name, d_model, cell, n_layers, filters=DEFAULT_FILTERS, n_highway=2, char_dim=16,
          **options) -> ElmoModel:
    """A randomly initialised ELMo whose shared softmax covers ``tokenizer``'s word vocabulary.

    ``options``: activation ('relu'), cell_clip, proj_clip (None: no clipping), dropout (0.1, training only).
    """
    net = ElmoNet(len(tokenizer), d_model, cell, n_layers, filters, n_highway, char_dim, **options)
    return ElmoModel(net, tokenizer, name, spec)


def load(spec, directory, name) -> ElmoModel:
    """One of our ELMo checkpoints (written by ``ElmoModel.save``)."""
    from transformers import PreTrainedTokenizerFast

    directory = Path(directory)
    config = json.loads((directory / "config.json").read_text())
    config.pop("family")
    net = ElmoNet(**config)
    weights_file = directory / "model.safetensors"
    if not weights_file.exists():
        raise ExplorerError(f"{directory} has no model.safetensors: the checkpoint is incomplete")
    try:
        state = load_file(str(weights_file))
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except (SafetensorError, RuntimeError) as e:
        raise ExplorerError(f"{weights_file} does not fit its config.json ({str(e).splitlines()[0]})") from None
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(directory))
    card_file = directory / "card.json"
    card = json.loads(card_file.read_text()) if card_file.exists() else {}
    return ElmoModel(net, tokenizer, name, spec, card)


# -- AllenNLP's original release: options.json + weights.hdf5 ------------------------------------

def _specials_tokenizer():
    """A word-level tokenizer that knows only the specials: AllenNLP ELMo reads characters, not word ids."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from ..tokenizers import _WORD_SPLIT

    vocab = {"<pad>": 0, "<unk>": 1, BOS: 2, EOS: 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = _WORD_SPLIT
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                                   bos_token=BOS, eos_token=EOS)


def _read_options(options_json: Path) -> dict:
    try:
        options = json.loads(options_json.read_text())
        cnn, lstm = options["char_cnn"], options["lstm"]
        if not lstm.get("use_skip_connections"):
            raise ExplorerError(f"{options_json}: only biLMs with residual connections (use_skip_connections) "
                                "are supported, as in AllenNLP")
        return dict(vocab_size=0, d_model=lstm["projection_dim"], cell=lstm["dim"], n_layers=lstm["n_layers"],
                    filters=[tuple(f) for f in cnn["filters"]], n_highway=cnn["n_highway"],
                    char_dim=cnn["embedding"]["dim"], activation=cnn.get("activation", "relu"),
                    cell_clip=lstm.get("cell_clip"), proj_clip=lstm.get("proj_clip"), dropout=0.0,
                    max_chars=cnn.get("max_characters_per_token", MAX_CHARS))
    except json.JSONDecodeError as e:
        raise ExplorerError(f"{options_json} is not valid JSON: {e}") from None
    except (KeyError, TypeError) as e:
        raise ExplorerError(f"{options_json} lacks the ELMo option {e}: it is not an AllenNLP options.json") from None


class _Hdf5:
    """Reads named datasets from an hdf5 file, failing with the dataset's and the file's name."""

    def __init__(self, fin, path: Path):
        self.fin, self.path = fin, path

    def __call__(self, name: str, shape: tuple) -> torch.Tensor:
        try:
            array = self.fin[name][...]
        except KeyError:
            raise ExplorerError(f"{self.path} has no dataset {name!r}: it is not a complete AllenNLP ELMo "
                                "weights file (download it again)") from None
        except OSError as e:
            raise ExplorerError(f"dataset {name!r} in {self.path} cannot be read ({e}): the file is corrupted") from None
        if array.shape != tuple(shape):
            raise ExplorerError(f"dataset {name!r} in {self.path} has shape {array.shape}, but options.json "
                                f"implies {tuple(shape)}: the options and weights files do not belong together")
        return torch.from_numpy(array.astype("float32"))


def _tf_gates_to_torch(w: torch.Tensor, cell: int) -> torch.Tensor:
    """TF packs the gates as (i, j=g, f, o) along dim 0; torch.nn.LSTM wants (i, f, g, o)."""
    i, g, f, o = w.split(cell, dim=0)
    return torch.cat([i, f, g, o], dim=0)


def _load_char_encoder(enc: CharEncoder, read: _Hdf5, cfg: dict):
    with torch.no_grad():
        table = read("char_embed", (N_CHARACTERS - 1, cfg["char_dim"]))
        enc.char_embedding.weight.copy_(torch.cat([torch.zeros(1, cfg["char_dim"]), table]))
        for k, (conv, (width, n)) in enumerate(zip(enc.convolutions, cfg["filters"])):
            w = read(f"CNN/W_cnn_{k}", (1, width, cfg["char_dim"], n))  # TF: [1, width, in, out]
            conv.weight.copy_(w[0].permute(2, 1, 0))
            conv.bias.copy_(read(f"CNN/b_cnn_{k}", (n,)))
        width = sum(n for _, n in cfg["filters"])
        for k, highway in enumerate(enc.highways):
            for part in ("transform", "carry"):
                layer = getattr(highway, part)
                layer.weight.copy_(read(f"CNN_high_{k}/W_{part}", (width, width)).T)
                layer.bias.copy_(read(f"CNN_high_{k}/b_{part}", (width,)))
        enc.projection.weight.copy_(read("CNN_proj/W_proj", (width, cfg["d_model"])).T)
        enc.projection.bias.copy_(read("CNN_proj/b_proj", (cfg["d_model"],)))


def _load_lstms(net: ElmoNet, read: _Hdf5, cfg: dict):
    d, cell = cfg["d_model"], cfg["cell"]
    with torch.no_grad():
        for direction, stack in enumerate((net.forward_lstms, net.backward_lstms)):
            for layer, lstm in enumerate(stack):
                prefix = f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
                w = _tf_gates_to_torch(read(f"{prefix}/W_0", (2 * d, 4 * cell)).T, cell)  # [input; state] rows
                lstm.weight_ih_l0.copy_(w[:, :d])
                lstm.weight_hh_l0.copy_(w[:, d:])
                bias = read(f"{prefix}/B", (4 * cell,))
                bias[2 * cell: 3 * cell] += 1.0  # TF adds forget_bias=1 at run time, not in the stored bias
                lstm.bias_ih_l0.copy_(_tf_gates_to_torch(bias, cell))
                lstm.bias_hh_l0.zero_()
                lstm.weight_hr_l0.copy_(read(f"{prefix}/W_P_0", (cell, d)).T)


def load_allennlp(spec, options_json, weights_hdf5) -> ElmoModel:
    """An ELMo from AllenNLP's original release files; it has no softmax, so its traces carry no logits."""
    import h5py

    options_json, weights_hdf5 = Path(options_json), Path(weights_hdf5)
    if not weights_hdf5.exists():
        raise ExplorerError(f"{weights_hdf5} does not exist: put the weights.hdf5 that goes with {options_json} "
                            "next to it")
    cfg = _read_options(options_json)
    net = ElmoNet(**cfg)
    try:
        with h5py.File(weights_hdf5, "r") as fin:
            read = _Hdf5(fin, weights_hdf5)
            _load_char_encoder(net.char_encoder, read, cfg)
            _load_lstms(net, read, cfg)
    except OSError as e:
        raise ExplorerError(f"{weights_hdf5} is not a readable hdf5 file ({e}): copy it again") from None
    card = dict(source="AllenNLP ELMo release", options=str(options_json), weights=str(weights_hdf5))
    return ElmoModel(net, _specials_tokenizer(), options_json.parent.name, spec, card)
