"""A page imports no torch until it runs an analysis: importing every page module (as Streamlit's navigation and a
test collecting pages do) stays fast, and torch loads only when a page needs a network."""
import subprocess
import sys

from tests.conftest import ROOT

PAGES = sorted(p.stem for p in (ROOT / "explorer" / "ui").glob("*.py"))

# Imports one module; where torch gets imported, prints the explorer lines that led there (the import chain).
SPY = r"""
import importlib, sys, traceback

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            chain = [f"{f.filename.rsplit('/explorer/', 1)[-1]}:{f.lineno}" for f in traceback.extract_stack()
                     if "/explorer/" in f.filename]
            print(" -> ".join(chain) or "torch")
            sys.meta_path.remove(self)

sys.meta_path.insert(0, Spy())
importlib.import_module(sys.argv[1])
"""


def test_no_page_imports_torch_when_imported():
    runs = {page: subprocess.Popen([sys.executable, "-c", SPY, f"explorer.ui.{page}"], cwd=ROOT, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE) for page in PAGES}
    found = {page: run.communicate() + (run.returncode,) for page, run in runs.items()}
    assert len(PAGES) >= 10 and not [f"{page}: {err}" for page, (_, err, code) in found.items() if code]
    chains = [f"{page} ({chain.strip()})" for page, (chain, _, _) in found.items() if chain.strip()]
    assert not chains, f"importing these pages imports torch: {'; '.join(chains)}"


# Renders the app, then one page, the way a user's browser does; prints the chain where torch got imported.
RENDER = SPY.replace("importlib.import_module(sys.argv[1])", r"""
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("app.py", default_timeout=120)
app.run()
sys.meta_path.insert(0, Spy())
app.switch_page(f"explorer/ui/{sys.argv[1]}.py").run()
assert not app.exception, [e.message for e in app.exception]
""")


def test_pages_that_run_no_network_render_without_torch():
    """The Journey (the first page), Use & gain and Train read results and launch background jobs: torch's
    seconds of import belong to the process that trains, not to the page."""
    pages = ["journey", "use_gain", "train"]
    runs = {page: subprocess.Popen([sys.executable, "-c", RENDER, page], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE) for page in pages}
    found = {page: run.communicate() + (run.returncode,) for page, run in runs.items()}
    assert not [f"{page}: {err[-2000:]}" for page, (_, err, code) in found.items() if code]
    chains = [f"{page} ({chain.strip()})" for page, (chain, _, _) in found.items() if chain.strip()]
    assert not chains, f"rendering these pages imports torch: {'; '.join(chains)}"
