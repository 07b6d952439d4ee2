"""The app in a real browser: Debian's chromium driven by Playwright against `streamlit run app.py`.

Every request that would leave the machine is blocked and recorded (the app must work offline); each page
is visited, a sentence typed where the page has a text box, the figures awaited, and no error box or
exception may show. Screenshots go to a temporary folder, and to $LT_SCREENSHOTS when it is set.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import make_tiny

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
LOCAL = ("http://localhost", "http://127.0.0.1", "ws://localhost", "ws://127.0.0.1", "data:", "blob:")
# (url path, label of the text box to type into or None, sentence, button to press or None, figures expected)
PAGES = [
    ("", None, None, None, 1),
    ("compare", "Sentence with one blank", "The small dog chased the ___ across the garden .", None, 4),
    ("attention", "Sentence", "The teacher read the letter because she was curious .", None, 1),
    ("attribution", "Sentence", "The children played in the ___ all afternoon .", None, 1),
    ("layers", None, None, None, 3),
    ("probing", None, None, "Run the probes", 3),
    ("fewshot", None, None, "Run", 3),
    ("use_gain", None, None, None, 2),
    ("models", "Hugging Face id or local folder", None, None, 0),
    ("train", None, None, None, 0),
]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: run "
                                "scripts/install_browser.sh (Debian's chromium; never a downloaded browser)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(home: Path, port: int) -> subprocess.Popen:
    """`streamlit run app.py` on ``port`` with the user models of ``home``; returns once it answers."""
    env = dict(os.environ, LT_HOME=str(home))
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise AssertionError(f"streamlit did not start: {process.stdout.read().decode()[-2000:]}")


def settle(page, timeout: float = 180) -> None:
    """Wait until the script has finished its run and nothing is still loading (for a second)."""
    deadline, quiet = time.time() + timeout, 0
    while time.time() < deadline:
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        busy = state != "notRunning" or page.locator('[data-testid="stSkeleton"]').count() > 0
        quiet = 0 if busy else quiet + 1
        if quiet >= 4:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{page.url} kept running for {timeout} s")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("lt_home_browser")
    for family in ("bert", "gpt2", "elmo"):
        make_tiny(family).save(home / "models" / f"{family}-small", {"note": "test model"})
    port = free_port()
    process = start_app(home, port)
    picked = ",".join(str(home / "models" / f"{family}-small") for family in ("bert", "gpt2", "elmo"))
    yield f"http://127.0.0.1:{port}", picked
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots")


def test_every_page_renders_offline_without_errors(app_url, shots):
    """With the small test models picked through the address (the shipped ones would make it slow)."""
    from playwright.sync_api import sync_playwright

    url, picked = app_url
    outside = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
                   else (outside.append(route.request.url), route.abort()))
        for path, box, sentence, button, figures in PAGES:
            page.goto(f"{url}/{path}?models={picked}")
            page.wait_for_selector("h1", timeout=120_000)
            settle(page)
            if sentence:
                field = page.get_by_label(box, exact=True)
                field.fill(sentence)
                field.press("Enter")
                page.wait_for_timeout(500)
                settle(page)
                assert page.get_by_label(box, exact=True).input_value() == sentence
            elif box:
                assert page.get_by_label(box, exact=True).is_visible()
            if button:
                page.get_by_role("button", name=button, exact=True).click()
                page.wait_for_timeout(500)
                settle(page)
            name = path or "journey"
            assert "bert-small" in page.locator('[data-testid="stSidebar"]').inner_text(), name
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            assert page.locator('[data-testid="stException"]').count() == 0, name
            errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
            assert not errors, (name, errors)
            drawn = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').count()
            assert drawn >= figures, f"{name}: {drawn} figures drawn, expected at least {figures}"
        downloads_work(page, url)
        browser.close()
    if os.environ.get("LT_SCREENSHOTS"):
        keep = Path(os.environ["LT_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy(shot, keep / shot.name)
    assert not outside, f"requests that tried to leave the machine: {sorted(set(outside))}"


def downloads_work(page, app_url):
    """A figure downloads as PNG (rendered offline by kaleido) and its data as CSV."""
    page.goto(app_url)
    page.wait_for_selector("h1", timeout=120_000)
    settle(page)
    for label, start in (("PNG image", b"\x89PNG"), ("CSV data", b"model,")):
        page.locator('[data-testid="stPopoverButton"]').first.click()
        with page.expect_download(timeout=120_000) as download:
            page.locator('[data-testid="stDownloadButton"] button', has_text=label).first.click()
        assert Path(download.value.path()).read_bytes().startswith(start), label
        page.keyboard.press("Escape")


def open_page(playwright, app_url, path):
    """Chromium on one page of the app with the small test models picked, once its first run settled."""
    url, picked = app_url
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{url}/{path}?models={picked}")
    page.wait_for_selector("h1", timeout=120_000)
    settle(page)
    return browser, page


def test_a_slow_step_shows_the_running_indicator(app_url):
    """Streamlit's status widget (running figure and Stop) shows while the probes run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = open_page(p, app_url, "probing")
        page.get_by_role("button", name="Run the probes", exact=True).click()
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="visible", timeout=10_000)
        settle(page)
        browser.close()


def test_logit_lens_rank_axis_shows_whole_ranks(app_url):
    """The rank axis of every logit-lens figure on Compare is labelled with integers only."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = open_page(p, app_url, "compare")
        field = page.get_by_label("Sentence with one blank", exact=True)
        field.fill("The small dog chased the ___ across the garden .")
        field.press("Enter")
        page.wait_for_timeout(500)
        settle(page)
        ticks = page.locator('.js-plotly-plot:has(.g-y2title:has-text("rank")) .y2tick text').all_text_contents()
        browser.close()
    assert ticks, "no logit-lens rank axis drawn"
    assert all(t.strip().isdigit() for t in ticks), ticks


def test_a_binary_upload_gives_a_message_naming_the_file(app_url, tmp_path):
    """Random bytes as a Train corpus: a message naming the user's file, no traceback, no run started."""
    from playwright.sync_api import sync_playwright

    junk = tmp_path / "corpus.txt"
    junk.write_bytes(os.urandom(1 << 20))
    with sync_playwright() as p:
        browser, page = open_page(p, app_url, "train")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(junk))
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Start training", exact=True).click()
        page.wait_for_timeout(500)
        settle(page)
        errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
        exceptions = page.locator('[data-testid="stException"]').count()
        browser.close()
    assert any("corpus.txt is not UTF-8 text" in e for e in errors), errors
    assert exceptions == 0


def test_a_runaway_attribution_is_refused_quickly(app_url):
    """10,000 words through ELMo (no context limit): refused with what would fit, before any work."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = open_page(p, app_url, "attribution")
        field = page.get_by_label("Sentence", exact=True)
        field.fill("the ___ sat . " + "and then it sat again . " * 2000)
        field.press("Enter")
        page.wait_for_timeout(500)
        settle(page, timeout=120)  # refused before any work: an attribution this size would run for many minutes
        warnings = page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
        browser.close()
    assert any("the work allowed" in w and "tokens fit" in w for w in warnings), warnings
