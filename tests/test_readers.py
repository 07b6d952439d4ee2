"""Readers for the probing lab: CoNLL-U and word/TAG files, the WSD framework's XML + key, WiC pairs, demo sets."""
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data

from explorer.data.conllu import DEMO_POS_TEST, DEMO_POS_TRAIN, read_conllu, read_pos_file
from explorer.data.wic import pairs_from_senses, read_wic
from explorer.data.wsd import (DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, _scan_entries, read_sense_file, read_wsd_xml,
                               wordnet_first_senses)
from explorer.errors import ExplorerError

FIXTURES = Path(__file__).parent / "fixtures"
UPOS = set("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split())

CONLLU = """# sent_id = s1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
4.1\tknows\t_\t_\t_\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = s2
1\tRain\train\tNOUN\tNN\t_\t2\tnsubj\t_\t_
2\tfell\tfall\tVERB\tVBD\t_\t0\troot\t_\t_
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- CoNLL-U and word/TAG ----------------------------------------------------------------------------

def test_conllu_keeps_syntactic_words_and_skips_multiword_ranges_and_empty_nodes(tmp_path):
    s1, s2 = read_conllu(write(tmp_path, "a.conllu", CONLLU))
    assert s1.words == ["I", "do", "n't", "know", "."]
    assert s1.upos == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert s1.xpos == ["PRP", "VBP", "RB", "VB", "."]
    assert s1.sent_id == "s1" and s2.words == ["Rain", "fell"] and s2.line == 11
    assert s1.tags("xpos") == s1.xpos
    with pytest.raises(ExplorerError, match="tag set"):
        s1.tags("deprel")


@pytest.mark.parametrize("bad, problem", [
    ("2\tfell\tfall\tVERB\n", "expected 10 tab-separated"),
    ("x\tfell\tfall\tVERB\tVBD\t_\t0\troot\t_\t_\n", "not a valid ID"),
    ("2\t\tfall\tVERB\tVBD\t_\t0\troot\t_\t_\n", "a word with no form"),
    ("3\tfell\tfall\tVERB\tVBD\t_\t0\troot\t_\t_\n", "out of order"),
])
def test_malformed_conllu_line_names_file_and_line(tmp_path, bad, problem):
    path = write(tmp_path, "bad.conllu", CONLLU.replace("2\tfell\tfall\tVERB\tVBD\t_\t0\troot\t_\t_\n", bad))
    with pytest.raises(ExplorerError, match=problem) as err:
        read_conllu(path)
    assert f"{path}, line 13" in str(err.value)


def test_word_tag_files_and_their_errors(tmp_path):
    (s,) = read_pos_file(write(tmp_path, "a.txt", "# comment\nThe/DET cat/NOUN ran/VERB ./PUNCT\n"))
    assert s.words == ["The", "cat", "ran", "."] and s.upos == ["DET", "NOUN", "VERB", "PUNCT"]
    with pytest.raises(ExplorerError, match=r"line 2: 'cat' is not word/TAG"):
        read_pos_file(write(tmp_path, "b.txt", "The/DET\ncat\n"))
    with pytest.raises(ExplorerError, match="does not exist"):
        read_pos_file(tmp_path / "missing.conllu")


def test_ewt_train_reads_whole_with_gold_tags():
    sentences = read_conllu(shared_data("ud_english_ewt", "en_ewt-ud-train.conllu"))
    assert len(sentences) == 12544
    assert sentences[0].words[:3] == ["Al", "-", "Zaman"] and sentences[0].upos[:3] == ["PROPN", "PUNCT", "PROPN"]
    tags = Counter(t for s in sentences for t in s.upos)
    assert set(tags) == UPOS and tags.most_common(1)[0][0] == "NOUN"
    assert all(len(s.words) == len(s.upos) == len(s.xpos) for s in sentences)
    assert read_conllu(shared_data("ud_english_ewt", "en_ewt-ud-test.conllu"), limit=300)[299].sent_id


def test_demo_pos_set_is_large_enough_and_consistent():
    train, test = read_pos_file(DEMO_POS_TRAIN), read_pos_file(DEMO_POS_TEST)
    assert len(train) + len(test) >= 300
    train_tags = Counter(t for s in train for t in s.upos)
    assert set(train_tags) <= UPOS and len(train_tags) >= 15
    assert {t for s in test for t in s.upos} <= set(train_tags)  # the probe can be scored on every test tag
    assert not {" ".join(s.words) for s in train} & {" ".join(s.words) for s in test}


# -- WSD framework ---------------------------------------------------------------------------------

XML = """<?xml version="1.0" encoding="UTF-8" ?>
<corpus lang="en" source="toy">
<text id="d000">
<sentence id="d000.s000">
<wf lemma="the" pos="DET">The</wf>
<instance id="d000.s000.t000" lemma="group" pos="NOUN">Fulton County Jury</instance>
<instance id="d000.s000.t001" lemma="say" pos="VERB">said</instance>
<wf lemma="." pos=".">.</wf>
</sentence>
</text>
</corpus>
"""


def test_wsd_xml_keeps_multiword_instances_as_word_spans(tmp_path):
    write(tmp_path, "toy.gold.key.txt", "d000.s000.t000 group%1:03:00::\nd000.s000.t001 say%2:32:00:: say%2:32:01::\n")
    (s,) = read_wsd_xml(write(tmp_path, "toy.data.xml", XML))
    assert s.words == ["The", "Fulton", "County", "Jury", "said", "."]
    group, say = s.instances
    assert (group.start, group.end, group.keys) == (1, 4, ("group%1:03:00::",))
    assert (say.lemma, say.pos, say.start, say.end) == ("say", "VERB", 4, 5)
    assert say.keys == ("say%2:32:00::", "say%2:32:01::")


def test_wsd_ids_missing_from_the_key_file_are_named(tmp_path):
    write(tmp_path, "toy.gold.key.txt", "d000.s000.t000 group%1:03:00::\n")
    with pytest.raises(ExplorerError, match=r"1 instance ids .* missing from its key file \(first: d000.s000.t001\)"):
        read_wsd_xml(write(tmp_path, "toy.data.xml", XML))
    with pytest.raises(ExplorerError, match="gold key file .* does not exist"):
        read_wsd_xml(write(tmp_path, "other.data.xml", XML))
    write(tmp_path, "broken.gold.key.txt", "")
    with pytest.raises(ExplorerError, match="not valid XML"):
        read_wsd_xml(write(tmp_path, "broken.data.xml", XML[:200]))


def test_raganato_all_has_the_published_instance_counts():
    sentences = read_wsd_xml(shared_data("wsd_eval_framework", "Evaluation_Datasets", "ALL", "ALL.data.xml"))
    parts = Counter(inst.part for s in sentences for inst in s.instances)
    assert parts == dict(senseval2=2282, senseval3=1850, semeval2007=455, semeval2013=1644, semeval2015=1022)
    assert all(inst.keys for s in sentences for inst in s.instances)


def test_wordnet_first_senses_agree_with_a_full_yaml_parse():
    import zipfile

    import yaml

    path = shared_data("open_english_wordnet_2025", "oewn-2025-src-yaml.zip")
    with zipfile.ZipFile(path) as z:
        text = z.read("yaml/entries-q.yaml").decode()
    pos = {"n": "NOUN", "v": "VERB", "a": "ADJ", "s": "ADJ", "r": "ADV"}
    expected = {}
    for lemma, entry in yaml.load(text, Loader=yaml.CSafeLoader).items():
        for p in sorted(entry):
            expected.setdefault((str(lemma).lower().replace(" ", "_"), pos[p.split("-")[0]]), entry[p]["sense"][0]["id"])
    scanned = {}
    _scan_entries(text, scanned)
    assert scanned == expected and scanned[("queen's_counsel", "NOUN")] == "queen's_counsel%1:18:00::"
    assert len(wordnet_first_senses(path)) > 130_000
    with pytest.raises(ExplorerError, match="neither"):
        wordnet_first_senses(FIXTURES / "wic" / "mini.data.txt")


def test_demo_sense_set_has_thirty_ambiguous_words_with_eight_contexts():
    train, test = read_sense_file(DEMO_SENSES_TRAIN), read_sense_file(DEMO_SENSES_TEST)
    contexts = Counter(inst.lemma for s in train + test for inst in s.instances)
    senses = {}
    for s in train + test:
        for inst in s.instances:
            senses.setdefault(inst.lemma, set()).update(inst.keys)
            assert s.words[inst.start].lower()[0] == inst.lemma[0]  # the marked word is the target (mice, ran)
    assert len(contexts) >= 30 and min(contexts.values()) >= 8
    assert all(len(k) >= 2 for k in senses.values())
    train_keys = {k for s in train for inst in s.instances for k in inst.keys}
    assert {k for s in test for inst in s.instances for k in inst.keys} <= train_keys


def test_sense_tsv_needs_one_marked_target(tmp_path):
    with pytest.raises(ExplorerError, match="line 1: mark exactly one target"):
        read_sense_file(write(tmp_path, "s.tsv", "bank\tNOUN\triver\tThe bank of the river .\n"))
    with pytest.raises(ExplorerError, match="found 3 fields"):
        read_sense_file(write(tmp_path, "t.tsv", "bank\tNOUN\tThe *bank* .\n"))


# -- WiC -------------------------------------------------------------------------------------------

def test_wic_fixture_reads_targets_and_labels():
    pairs = read_wic(FIXTURES / "wic" / "mini.data.txt")
    assert len(pairs) == 6
    assert all(p.words1[p.index1].startswith(p.lemma[:4]) and p.words2[p.index2].startswith(p.lemma[:4])
               for p in pairs)
    assert [p.same for p in pairs] == [False, True, True, False, False, True]


def test_wic_errors_name_the_problem(tmp_path):
    good = (FIXTURES / "wic" / "mini.data.txt").read_text()
    write(tmp_path, "a.data.txt", good)
    write(tmp_path, "a.gold.txt", "T\n")
    with pytest.raises(ExplorerError, match="6 pairs but .* has 1 labels"):
        read_wic(tmp_path / "a.data.txt")
    write(tmp_path, "b.data.txt", good.replace("7-1", "70-1"))
    write(tmp_path, "b.gold.txt", "F\nT\nT\nF\nF\nT\n")
    with pytest.raises(ExplorerError, match="line 1: index pair 70-1 is outside"):
        read_wic(tmp_path / "b.data.txt")
    write(tmp_path, "c.data.txt", good)
    write(tmp_path, "c.gold.txt", "F\nT\nyes\nF\nF\nT\n")
    with pytest.raises(ExplorerError, match="line 3: expected T or F"):
        read_wic(tmp_path / "c.data.txt")


def test_pairs_from_senses_are_balanced_and_correctly_labelled():
    sentences = read_sense_file(DEMO_SENSES_TRAIN)
    pairs = pairs_from_senses(sentences)
    assert sum(p.same for p in pairs) * 2 == len(pairs) > 100
    sense_of = {(tuple(s.words), inst.start): inst.keys[0] for s in sentences for inst in s.instances}
    for p in pairs:
        assert (sense_of[(p.words1, p.index1)] == sense_of[(p.words2, p.index2)]) == p.same
