"""Readers for the probing lab: CoNLL-U, word/TAG, PTB .pos and column files, the WSD framework's XML + key,
Senseval lexical samples, WiC pairs, demo sets."""
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data

from explorer.data.conllu import (DEMO_POS_TEST, DEMO_POS_TRAIN, read_columns, read_conllu, read_pos_file,
                                  read_ptb_pos, read_tagged_text)
from explorer.data.wic import pairs_from_senses, read_wic
from explorer.data.senses import (DEMO_SENSES_TEST, DEMO_SENSES_TRAIN, SenseInstance, SenseSentence, _scan_entries,
                                  read_sense_file, read_senseval, read_wsd_xml, wordnet_first_senses)
from explorer.errors import ExplorerError

FIXTURES = Path(__file__).parent / "fixtures"
POS, SENSEVAL = FIXTURES / "pos", FIXTURES / "senseval" / "mini-lexsample.xml"
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


def test_word_tag_tags_keep_their_case_as_in_nltk_raw_brown(tmp_path):
    first, second, third = read_pos_file(POS / "brown_mini")  # tab-indented lines, blank lines between
    assert first.words[:3] == ["The", "little", "boat"] and first.upos[:3] == ["at", "jj", "nn"]
    assert second.upos[:2] == ["np-tl", "np"] and second.upos[5] == "*" and third.upos[:2] == ["pp$", "nn$"]
    assert (first.line, third.sent_id) == (3, "brown_mini:9")
    assert first.tagset == "brown_mini"  # neither UPOS nor Penn tags: named after the file
    assert read_pos_file(DEMO_POS_TEST)[0].tagset == "upos"
    (s,) = read_tagged_text(write(tmp_path, "h.txt", "#/# 200/CD ./.\n# a comment\n"))  # the word # is no comment
    assert s.words == ["#", "200", "."] and s.tagset == "ptb"


def test_ptb_pos_drops_brackets_and_separators_and_undoes_escapes():
    sentences = read_pos_file(POS / "mini.pos")
    assert [len(s.words) for s in sentences] == [9, 11, 3]  # blank and ===== lines end sentences
    assert sentences[0].words[:3] == ["The", "old", "ferry"] and sentences[0].upos[:3] == ["DT", "JJ", "NN"]
    assert sentences[1].words[3] == "1/2" and sentences[1].words[8] == "A*B" and sentences[1].upos[0] == "PRP$"
    assert sentences[0].line == 4 and {s.tagset for s in sentences} == {"ptb"}
    assert read_ptb_pos(POS / "mini.pos", limit=2)[-1].words[-1] == "."


def test_column_files_take_the_chosen_word_and_tag_columns():
    s1, s2 = read_pos_file(POS / "conll2000_mini.txt")  # sniffed: not word/TAG, so columns 0 and 1
    assert s1.words[:4] == ["Shares", "of", "the", "bakery"] and s1.upos[:4] == ["NNS", "IN", "DT", "NN"]
    assert s2.words[2] == "#" and s2.upos[2] == "#" and s2.line == 10 and s1.tagset == "ptb"
    chunks = read_pos_file(POS / "conll2000_mini.txt", tag_col=2)
    assert chunks[0].upos[:3] == ["B-NP", "B-PP", "B-NP"] and chunks[0].tagset == "conll2000_mini"
    (s,) = read_columns(POS / "conll2000_mini.txt", limit=1, word_col=1, tag_col=0)
    assert s.words[0] == "NNS" and s.upos[0] == "Shares"


def test_conll2003_docstart_lines_are_skipped(tmp_path):
    (s,) = read_pos_file(write(tmp_path, "ner.txt", "-DOCSTART- -X- -X- O\n\nRain NN B-NP O\nfell VBD B-VP O\n"),
                         tag_col=3)
    assert s.words == ["Rain", "fell"] and s.upos == ["O", "O"]


@pytest.mark.parametrize("name, text, problem", [
    ("a.txt", "", "a.txt is empty: expected a CoNLL-U file"),
    ("a.txt", "# only a comment\n\n", "is empty"),
    ("a.pos", "\n=====\n\n", "holds no PTB .pos sentences"),
    ("a.conllu", "\n", "is empty"),
    # wrong format: file, line and what was expected
    ("a.txt", "The/DT dog/NN\nThe/DT dog NN\n", r"a.txt, line 2: 'dog' is not word/TAG \(e.g. dog/NOUN\)"),
    ("a.pos", "[ The/DT dog/NN ]\nbarked\n", r"line 2: 'barked' is not word/TAG \(e.g. dog/NN\) or a \[ \] bracket"),
    ("a.pos", "[ The/DT [ dog/NN ]\n", r"line 1: '\[' inside the '\[' of line 1"),
    ("a.pos", "The/DT dog/NN ]\n", r"line 1: '\]' with no '\['"),
    ("a.txt", "Rain NN B-NP\nfell VBD\n", "a.txt, line 2: expected 3 whitespace-separated columns .* found 2"),
    ("a.json", "\n{}\n", r"a.json, line 2: '{}' is neither word/TAG tokens nor a word and its tag in columns"),
    # mixed formats in one file
    ("a.txt", "The/DT dog/NN\n1\tRain\train\tNOUN\tNN\t_\t0\troot\t_\t_\n", r"line 2: '1' is not word/TAG"),
    ("a.txt", "Rain NN B-NP\n\nThe/DT dog/NN ran/VBD\n", "line 3: word/TAG tokens in a column file"),
    ("a.pos", "[ The/DT dog/NN ]\n\nRain NN B-NP\n", r"line 3: 'Rain' is not word/TAG"),
    ("a.conllu", "1\tRain\train\tNOUN\tNN\t_\t0\troot\t_\t_\nfell/VBD\n", "line 2: expected 10 tab-separated"),
])
def test_pos_readers_bad_input_names_file_line_and_what_was_expected(tmp_path, name, text, problem):
    path = write(tmp_path, name, text)
    with pytest.raises(ExplorerError, match=problem) as err:
        read_pos_file(path)
    assert str(path) in str(err.value)


def test_column_choices_are_checked(tmp_path):
    with pytest.raises(ExplorerError, match=r"line 1: 3 columns, so no column 5: choose word and tag columns from 0"):
        read_pos_file(POS / "conll2000_mini.txt", tag_col=5)
    with pytest.raises(ExplorerError, match="two different columns"):
        read_pos_file(POS / "conll2000_mini.txt", word_col=1)


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


def test_senseval_lexical_sample_reads_heads_answers_and_wf_words():
    sentences = read_sense_file(SENSEVAL)  # sniffed from its <lexelt>
    assert [s.sent_id for s in sentences][:2] == ["line-n.t01", "line-n.t02"] and len(sentences) == 6
    for s in sentences:
        (inst,) = s.instances
        assert s.words[inst.start:inst.end] == [inst.lemma] and inst.id == s.sent_id
    first, second, _, wf = (s.instances[0] for s in sentences[:4])
    assert (first.lemma, first.pos, first.keys) == ("line", "NOUN", ("line%cord",))
    assert sentences[1].words[:2] == ["The", "actor"]  # the <s> marker adds no word
    assert sentences[3].words == ["He", "read", "the", "opening", "line", "aloud", "."]
    assert wf.keys == ("line%text", "line%phone")  # every answer counts
    hard = sentences[4].instances[0]
    assert (hard.lemma, hard.pos, hard.keys) == ("hard", "ADJ", ("hard%3:00:01::",))  # WordNet keys stay


SENSEVAL_ONE = """<corpus lang="en"><lexelt item="bank-n">
<instance id="bank-n.1"><answer instance="bank-n.1" senseid="shore"/>
<context>We sat on the {head} of the river .</context></instance>
</lexelt></corpus>
"""


def test_senseval_test_sets_take_answers_from_a_key_file(tmp_path):
    text = SENSEVAL_ONE.format(head="<head>bank</head>").replace('<answer instance="bank-n.1" senseid="shore"/>', "")
    write(tmp_path, "lex.test.key", "bank-n bank-n.1 shore slope\n")
    (s,) = read_sense_file(write(tmp_path, "lex.test", text))  # NAME.key beside the data
    assert s.instances[0].keys == ("bank%shore", "bank%slope")
    write(tmp_path, "other.key", "bank-n bank-n.1\n")
    with pytest.raises(ExplorerError, match=r"other.key, line 1: expected 'ITEM INSTANCE_ID KEY"):
        read_sense_file(tmp_path / "lex.test", keys=tmp_path / "other.key")


@pytest.mark.parametrize("text, problem", [
    ("", "is empty: expected a WSD-framework"),
    (SENSEVAL_ONE.format(head="bank"), r"instance bank-n.1 has no <head> word: mark the target"),
    (SENSEVAL_ONE.format(head="<head> </head>"), r"instance bank-n.1 has no <head> word"),
    (SENSEVAL_ONE.format(head="<head>bank</head>").replace('<answer instance="bank-n.1" senseid="shore"/>', ""),
     "instance bank-n.1 has no <answer senseid"),
    (SENSEVAL_ONE.format(head="<head>bank</head>").replace("</context>", ""),
     r"not valid XML \(mismatched tag: line 3"),
    (SENSEVAL_ONE.format(head="<head>bank</head>").replace("</lexelt>", "</lexelt><text><sentence/></text>"),
     "a <text> element where a Senseval file has <lexelt"),
    ('<corpus lang="en"><lexelt item="bank-n"></lexelt></corpus>', "holds no Senseval <instance>"),
])
def test_senseval_bad_input_names_file_and_instance(tmp_path, text, problem):
    path = write(tmp_path, "lex.xml", text)
    with pytest.raises(ExplorerError, match=problem) as err:
        read_sense_file(path)
    assert str(path) in str(err.value)
    (s,) = read_senseval(write(tmp_path, "ok.xml", SENSEVAL_ONE.format(head="<head>bank</head>")))
    assert s.words[4] == "bank" and s.instances[0].keys == ("bank%shore",)


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


def test_pairs_from_senses_draw_a_frequent_lemmas_pairs_among_a_sample_of_its_contexts():
    # 3,000 contexts of one lemma, two senses: all their pairs would be 4.5 million; a sample of 48 gives the dozen
    sentences = [SenseSentence(str(i), ["the", "bank", str(i)],
                               [SenseInstance(str(i), "bank", "NOUN", 1, 2, (f"bank%{i % 2}",))]) for i in range(3000)]
    pairs = pairs_from_senses(sentences, per_lemma=12, contexts_per_lemma=48)
    assert len(pairs) == 12 and sum(p.same for p in pairs) == 6
    assert all(p.same == (int(p.words1[2]) % 2 == int(p.words2[2]) % 2) for p in pairs)
    assert pairs == pairs_from_senses(sentences, per_lemma=12)  # seeded
