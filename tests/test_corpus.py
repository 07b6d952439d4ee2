"""Training corpora: text files and folders, downloads with checksums, and the shipped corpus build."""
import functools
import http.server
import json
import threading
from pathlib import Path

import pytest

from conftest import SHARED_DATA, shared_data
from explorer.cli import main
from explorer.data import corpus
from explorer.errors import ExplorerError
from explorer.paths import file_sha256


def test_a_file_without_a_last_newline_and_with_bad_utf8_is_read(tmp_path):
    path = tmp_path / "text.txt"
    path.write_bytes(b"first line\n\n  \nbad \xff\xfe line\nsecond line\r\nlast line without newline")
    lines, skipped = corpus.read_lines(path)
    assert lines == ["first line", "second line", "last line without newline"]
    assert skipped == 1


def test_a_folder_is_read_in_a_stable_order_and_a_slice_is_held_out(tmp_path):
    (tmp_path / "b.txt").write_text("".join(f"b {i}\n" for i in range(60)))
    (tmp_path / "a.txt").write_text("".join(f"a {i}\n" for i in range(40)))
    (tmp_path / "notes.md").write_text("not a corpus file\n")
    loaded = corpus.load_corpus(tmp_path)
    assert len(loaded.train) + len(loaded.valid) == 100
    assert loaded.valid == ["b 9", "b 59"]  # every 50th line of a.txt then b.txt
    assert [s["name"] for s in loaded.manifest["sources"]] == ["a.txt", "b.txt"]
    assert loaded.manifest["train"] == dict(lines=98, tokens=196)
    assert corpus.load_corpus(tmp_path).valid == loaded.valid


@pytest.mark.parametrize("content", [b"", b"\n\n   \n", b"\xff\xfe\n\xc3\x28\n"])
def test_an_empty_corpus_is_refused(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(ExplorerError, match="empty"):
        corpus.load_corpus(path)


def test_missing_and_one_line_corpora_are_refused(tmp_path):
    with pytest.raises(ExplorerError, match="does not exist"):
        corpus.load_corpus(tmp_path / "nope.txt")
    with pytest.raises(ExplorerError, match="no .txt files"):
        corpus.load_corpus(tmp_path)
    (tmp_path / "one.txt").write_text("just one sentence\n")
    with pytest.raises(ExplorerError, match="at least 2"):
        corpus.load_corpus(tmp_path / "one.txt")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The shipped training corpus, built once from ../shared/data through the CLI."""
    shared_data("semcor30_wn30", "semcor.data.xml")
    out = tmp_path_factory.mktemp("corpus")
    assert main(["corpus", "build", "--out", str(out), "--data", str(SHARED_DATA)]) == 0
    return out


def test_the_shipped_corpus_holds_exactly_the_allowed_sources(built):
    manifest = json.loads((built / "manifest.json").read_text())
    files = [s["file"] for s in manifest["sources"]]
    assert sum(f.startswith("gutenberg_nltk_sentences/") for f in files) == 10
    assert set(files) - {f for f in files if f.startswith("gutenberg")} == {
        "wikitext2_v1/valid.txt", "semcor30_wn30/semcor.data.xml", "ud_english_ewt/en_ewt-ud-train.conllu"}
    for source in manifest["sources"]:  # the recorded checksums are the files'
        assert source["sha256"] == file_sha256(SHARED_DATA / source["file"])
        assert source["lines"] > 0 and source["tokens"] > source["lines"]
    total = sum(s["lines"] for s in manifest["sources"])
    assert manifest["train"]["lines"] + manifest["valid"]["lines"] == total
    assert manifest["valid"]["lines"] == total // 50
    assert manifest["train"]["sha256"] == file_sha256(built / "train.txt")


def test_each_source_is_running_text_without_markup(built):
    text = (built / "train.txt").read_text()
    assert "<wf" not in text and "# text" not in text and "@-@" not in text
    assert not any(line.startswith(" = ") for line in text.splitlines())
    # SemCor's first sentence, joined from its <wf>/<instance> words
    assert "The Fulton County Grand Jury said Friday an investigation of Atlanta 's recent primary election" in text
    # an EWT training sentence, from its "# text =" line
    assert "DPA: Iraqi authorities announced that they had busted up 3 terrorist cells operating in Baghdad." in text


def test_training_reads_a_built_corpus_and_notices_tampering(built, tmp_path):
    loaded = corpus.load_corpus(built)
    assert len(loaded.valid) == loaded.manifest["valid"]["lines"]
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("manifest.json", "valid.txt"):
        (copy / name).write_bytes((built / name).read_bytes())
    (copy / "train.txt").write_text("something else\n")
    with pytest.raises(ExplorerError, match="differs from its manifest"):
        corpus.load_corpus(copy)


def test_building_over_an_existing_corpus_is_refused(built):
    with pytest.raises(ExplorerError, match="already holds"):
        corpus.build_shipped_corpus(SHARED_DATA, built)


@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1 serving ../shared/data, in a thread."""
    shared_data("wikitext2_v1", "valid.txt")
    handler = functools.partial(_QuietHandler, directory=str(SHARED_DATA))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_a_named_corpus_downloads_once_and_is_checked(server, tmp_path):
    path = corpus.fetch_named("wikitext2/valid", tmp_path, mirror=server)
    assert path.read_bytes() == (SHARED_DATA / "wikitext2_v1" / "valid.txt").read_bytes()
    assert not list(tmp_path.rglob("*.part"))
    mtime = path.stat().st_mtime_ns
    assert corpus.fetch_named("wikitext2/valid", tmp_path, mirror="http://127.0.0.1:9") == path  # cached: no request
    assert path.stat().st_mtime_ns == mtime
    assert corpus.load_corpus(path).manifest["sources"][0]["sha256"] == corpus.NAMED["wikitext2/valid"].sha256


def test_a_corrupted_cache_is_fetched_again(server, tmp_path):
    path = corpus.fetch_named("gutenberg/carroll-alice", tmp_path, mirror=server)
    path.write_text("truncated")
    assert corpus.fetch_named("gutenberg/carroll-alice", tmp_path, mirror=server).read_text() != "truncated"


def test_a_wrong_checksum_keeps_nothing(server, tmp_path):
    with pytest.raises(ExplorerError, match="sha256"):
        corpus.fetch(f"{server}/wikitext2_v1/test.txt", "0" * 64, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_names_the_file_and_where_to_put_it(server, tmp_path):
    with pytest.raises(ExplorerError, match=r"Offline\?.*valid\.txt"):
        corpus.fetch_named("wikitext2/valid", tmp_path, mirror="http://127.0.0.1:9")
    with pytest.raises(ExplorerError, match="could not download"):
        corpus.fetch(f"{server}/no/such/file.txt", "0" * 64, tmp_path)
    with pytest.raises(ExplorerError, match="unknown corpus"):
        corpus.fetch_named("wikitext103", tmp_path)


def test_the_cli_fetches_from_a_mirror_folder(tmp_path, capsys):
    shared_data("gutenberg_nltk_sentences", "carroll-alice.txt")
    assert main(["corpus", "fetch", "gutenberg/carroll-alice", "--cache", str(tmp_path),
                 "--mirror", str(SHARED_DATA)]) == 0
    assert Path(capsys.readouterr().out.strip()).read_bytes()[:20] == b"[ Alice 's Adventure"


def test_wikitext_unk_is_dropped_and_counted(tmp_path):
    (tmp_path / "w.txt").write_text(" = Title = \n The <unk> sat on the <unk> mat . \n")
    assert corpus.wikitext_lines(tmp_path / "w.txt") == ["The sat on the mat ."]


def test_shipped_corpus_has_no_unk_and_counts_it(built):
    manifest = json.loads((built / "manifest.json").read_text())
    wikitext = next(s for s in manifest["sources"] if s["name"] == "wikitext2/valid")
    assert wikitext["unk_dropped"] > 0
    assert "<unk>" not in (built / "train.txt").read_text()


def test_a_dropped_unk_takes_its_joiners_with_it():
    """'by @-@ <unk> @-@ ,' must not leave a dangling '@-@' (or a 'by-,') in the corpus."""
    assert corpus._drop_unk("founded by @-@ <unk> @-@ , in 3 @,@ 000 .".split()) == \
        "founded by , in 3 @,@ 000 .".split()
