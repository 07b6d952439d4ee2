"""What every page shares: the model picker, loading and caching, messages instead of tracebacks, downloads.

Models are loaded once per process (``st.cache_resource``); analyses are cached by their inputs
(``cached``), and the warnings they raised (e.g. truncation) are replayed on every cache hit.
"""
import functools
import hashlib
import logging
import re
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

import explorer
from explorer import ExplorerError, TruncationWarning
from explorer.analysis import export
from explorer.text import check_text
from explorer.families import REGISTRY, Family
from explorer.paths import CACHE, display_name
from explorer.zoo import TINY

log = logging.getLogger("explorer.ui")

PICKED = "models"  # the sidebar multiselect's key: the models every page works with
LOADED = "loaded_models"  # models the user loaded on the Models page (joined to the picker)
_PENDING = "_select_next"  # models to add to the selection on the next run (the widget is already drawn)

# ---------------------------------------------------------------------------------------------
# Warnings -> page messages. Streamlit serves sessions from threads, so a thread-local sink (not
# warnings.catch_warnings, which swaps process-wide state) collects each run's own warnings. Libraries
# (and pytest) may swap the process-wide hook and filters back, so both are re-installed on each use.
_sink = threading.local()
_show_elsewhere = warnings.showwarning


def _route_warning(message, category, filename, lineno, file=None, line=None):
    sink = getattr(_sink, "messages", None)
    if sink is not None and (issubclass(category, TruncationWarning) or "explorer" in Path(filename).parts):
        sink.append(str(message))
    else:
        _show_elsewhere(message, category, filename, lineno, file, line)


def _install_warning_route():
    global _show_elsewhere
    if warnings.showwarning is not _route_warning:
        _show_elsewhere, warnings.showwarning = warnings.showwarning, _route_warning
    if not any(f[0] == "always" and f[2] is TruncationWarning for f in warnings.filters):
        warnings.filterwarnings("always", category=TruncationWarning)
        warnings.filterwarnings("always", category=UserWarning, module=r"explorer\.")


@contextmanager
def collect_warnings(propagate: bool = True):
    """The explorer's warnings raised in this thread while the block runs (passed on to an enclosing
    collector unless ``propagate`` is False: for steps whose result carries its own notes)."""
    _install_warning_route()
    outer = getattr(_sink, "messages", None)
    _sink.messages = messages = []
    try:
        yield messages
    finally:
        _sink.messages = outer
        if outer is not None and propagate:
            outer.extend(messages)


@contextmanager
def guard(action: str, model: str | None = None):
    """Run a page step: bad input becomes a readable st.error, warnings become st.warning, never a traceback.

    With ``model``, the step is one model's part of a side-by-side view, and what it cannot do (no prediction
    head, no attention...) is a warning naming the model, not an error. Code after a failing line inside the
    block is skipped, so put what depends on it inside too.
    """
    with collect_warnings() as messages:
        try:
            yield
        except ExplorerError as e:
            if model is None:
                st.error(shorten(str(e)), icon=":material/error:")
            else:
                st.warning(f"**{label(model)}**: {shorten(str(e))}", icon=":material/block:")
        except Exception as e:  # a bug, not the user's fault: say what failed, log the details
            log.exception("%s failed", action)
            st.error(f"{action} failed unexpectedly ({type(e).__name__}: {shorten(str(e))}). "
                     "The details are in the server log.", icon=":material/bug_report:")
    for message in dict.fromkeys(messages):
        st.warning(message, icon=":material/warning:")


def give_way() -> None:
    """A point where long work stops if the user changed something (a rerun) or closed the tab.

    Streamlit stops a script only at its own calls: reading session state is one (SafeSessionState runs the
    script runner's stop/rerun check), and a closed tab requests a stop (WebsocketSessionManager.disconnect_session,
    streamlit 1.67). Analyses call this between batches, so an abandoned step ends within one batch.
    """
    _ = PICKED in st.session_state


class StepBar:
    """A progress bar over several models' steps, with the time elapsed and an estimate of the time left.

    Call it as an analysis's ``on_step(done, total, what)``; each update is a Streamlit call, so a rerun or a
    closed tab stops the work there (see give_way).
    """

    def __init__(self, n_models: int):
        self.bar, self.n_models, self.start = st.progress(0.0, text="Starting…"), n_models, time.monotonic()
        self.index, self.name = 0, ""

    def model(self, index: int, name: str) -> None:
        self.index, self.name = index, name

    def __call__(self, done: int, total: int, what: str) -> None:
        share = (self.index + done / max(total, 1)) / self.n_models
        elapsed = time.monotonic() - self.start
        left = f", about {clock(elapsed / share - elapsed)} left" if share >= 0.05 else ""
        self.bar.progress(min(share, 1.0), text=f"{self.name} ({self.index + 1} of {self.n_models}): {what} · "
                                                f"{clock(elapsed)} elapsed{left}")

    def empty(self) -> None:
        self.bar.empty()


def clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def shorten(message: str, longest: int = 60) -> str:
    """A message with any very long run of text (a pasted 10k-character input, say) cut in the middle."""
    return re.sub(rf"\S{{{longest},}}", lambda m: f"{m.group()[:longest // 2]}…{m.group()[-10:]}", message)


# ---------------------------------------------------------------------------------------------
# Models: loaded once per process, keyed by name and, for folders, the checkpoint's modification time
# (a model retrained in place on the Train page is loaded afresh).
def checkpoint_version(name: str) -> float:
    if name in TINY:
        folder = explorer.zoo.TRAINED / name
    else:
        folder = Path(name).expanduser()
        if not _is_dir(folder):
            return 0.0
    stamps = [p.stat().st_mtime for p in folder.glob("*") if p.suffix in (".json", ".safetensors", ".hdf5")]
    return max(stamps, default=0.0)


def is_path(name: str) -> bool:
    """Whether ``name`` names something on this machine (rather than a Hugging Face id)."""
    try:
        return Path(name).expanduser().exists()
    except OSError:  # e.g. a name too long for the file system
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # e.g. a name too long for the file system
        return False


@st.cache_resource(show_spinner="Loading the model (the first load of a packaged GGUF model converts it: about a "
                                 "minute)…", max_entries=16)
def _load(name: str, version: float):
    return explorer.load(name)


def load_model(name: str):
    """The model ``name`` (shipped name, folder or Hugging Face id), loaded once per process."""
    return _load(name, checkpoint_version(name))


@st.cache_resource(show_spinner=False, max_entries=8)
def _load_exclusive(name: str, version: float):
    return explorer.load(name), threading.Lock()


@contextmanager
def exclusive_model(name: str):
    """A second copy of the model for analyses that hook into its modules (Captum's attribution), used by one
    caller at a time, so that the shared copy other sessions are tracing is never hooked."""
    model, lock = _load_exclusive(name, checkpoint_version(name))
    with lock:
        yield model


def available_models() -> list[str]:
    """Shipped and user-trained models, then those loaded in this session."""
    names = explorer.list_models()
    return names + [n for n in st.session_state.get(LOADED, []) if n not in names]


def label(name: str) -> str:
    """A short name for a model: shipped names as they are, folders by their last part."""
    if name in TINY or "/" not in name and "\\" not in name:
        return name
    path = Path(name)
    return display_name(path) if _is_dir(path) else name


def add_model(name: str) -> None:
    """Add a loaded model to the picker and select it (takes effect on the next run)."""
    loaded = st.session_state.setdefault(LOADED, [])
    if name not in loaded:
        loaded.append(name)
    st.session_state.setdefault(_PENDING, []).append(name)


def sidebar() -> None:
    """The model picker shared by every page, drawn in the sidebar on every run.

    A session starts with the models named in the address (``?models=gpt2-tiny,bert-tiny``, so a view can
    be bookmarked), else the shipped models, else the first few available.
    """
    options = available_models()
    if PICKED not in st.session_state:
        asked = [n for n in st.query_params.get(PICKED, "").split(",") if n]
        loaded = st.session_state.setdefault(LOADED, [])
        loaded += [n for n in asked if n not in options and n not in loaded and is_path(n)]  # folders only
        options = available_models()
        shipped = [n for n in options if n in TINY]
        st.session_state[PICKED] = [n for n in asked if n in options] or shipped or options[:3]
    chosen = [n for n in st.session_state[PICKED] + st.session_state.pop(_PENDING, []) if n in options]
    st.session_state[PICKED] = list(dict.fromkeys(chosen))
    with st.sidebar:
        st.multiselect("Models", options, key=PICKED, format_func=label,
                       placeholder="Choose models" if options else "No models yet: load one on Models",
                       help="Every page works on these. Load more on the Models page; "
                            "models you train on the Train page appear here.")


def picked() -> list[str]:
    return list(st.session_state.get(PICKED, []))


def require_models(at_least: int = 1) -> list[str]:
    """The picked models, or a hint and the end of the page when there are too few."""
    names = picked()
    if len(names) < at_least:
        st.info(f"Choose {'a model' if at_least == 1 else f'at least {at_least} models'} in the sidebar "
                "(or load one on the Models page).", icon=":material/arrow_back:")
        st.stop()
    return names


def one_model(names: list[str], key: str, fits=None, why: str = "") -> str | None:
    """One of the picked models (optionally only those whose spec ``fits``); None with an explanation if none fits."""
    fitting = names if fits is None else picked_where(names, fits)
    if not fitting:
        st.warning(f"None of the picked models fits here{': ' + why if why else ''}. "
                   "Pick one in the sidebar or load one on the Models page.", icon=":material/info:")
        return None
    return st.selectbox("Model", fitting, key=key, format_func=label)


def spec_of(name: str) -> Family | None:
    """A model's family spec: a shipped name tells; any other model is loaded (once) to ask it."""
    if name in TINY:
        return REGISTRY[TINY[name]["family"]]
    try:
        return load_model(name).spec
    except ExplorerError:
        return None


def picked_where(names: list[str], fits) -> list[str]:
    """The models among ``names`` whose family spec ``fits`` (a model that cannot be loaded fits nothing)."""
    return [n for n in names if (spec := spec_of(n)) is not None and fits(spec)]


# ---------------------------------------------------------------------------------------------
# Cached analyses
_ANALYSES = {}


def cached(func):
    """st.cache_data for a page's analysis step whose arguments are plain values (model names, text...).

    The key adds the checkpoint version of every model named in the arguments, and the warnings the
    step raised are kept with its result and shown again on every hit. A step that takes more than half a
    second shows a spinner with the models it works on and the time elapsed.
    """
    func_id = f"{func.__module__}.{func.__qualname__}"
    _ANALYSES[func_id] = func
    what = func.__name__.replace("_", " ")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        known = set(available_models())
        models = [a for a in _strings(args, kwargs) if a in known]
        stamps = tuple(checkpoint_version(a) for a in models)
        on = f" with {', '.join(map(label, dict.fromkeys(models)))}" if models else ""
        with st.spinner(f"Working: {what}{on}…", show_time=True):
            result, messages = _cached_call(func_id, stamps, args, kwargs)
        sink = getattr(_sink, "messages", None)
        if sink is not None:
            sink.extend(messages)
        else:
            for message in messages:
                st.warning(message, icon=":material/warning:")
        return result

    return wrapper


def _strings(args, kwargs):
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, str):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (v for v in value if isinstance(v, str))


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_call(func_id, stamps, args, kwargs):
    with collect_warnings() as messages:
        result = _ANALYSES[func_id](*args, **kwargs)
    return result, list(messages)


# ---------------------------------------------------------------------------------------------
# Inputs
def sentence(label_text: str, default: str, key: str, help: str | None = None, area: bool = False) -> str | None:
    """A text box whose content is checked: empty or control characters give a message and None."""
    box = st.text_area if area else st.text_input
    text = box(label_text, default, key=key, help=help)
    try:
        return check_text(text, label_text.lower())
    except ExplorerError as e:
        st.error(str(e), icon=":material/error:")
        return None


def upload_text(upload) -> bytes:
    """An uploaded file's bytes, refused (naming the user's file, not where it was stored) unless it is UTF-8 text
    of a sensible size: data files here are all text."""
    content, limit_mb = upload.getvalue(), st.get_option("server.maxUploadSize")  # one limit: .streamlit/config.toml
    if len(content) > limit_mb * 2**20:
        raise ExplorerError(f"{upload.name} is {len(content) / 2**20:.0f} MB: upload a text file under {limit_mb} MB")
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ExplorerError(f"{upload.name} is not UTF-8 text (byte {e.start:,} is not valid UTF-8): "
                            "upload a plain text file") from None
    return content


def store_uploads(files) -> Path:
    """Uploaded files, each checked by upload_text, saved under their own names in one folder named by their
    content (key files sit beside their data file; messages about them name the user's file)."""
    contents = {Path(f.name).name: upload_text(f) for f in files}
    folder = CACHE / "uploads" / hashlib.sha256(b"".join(contents.values())).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        (folder / name).write_bytes(content)
    return folder


# ---------------------------------------------------------------------------------------------
# Figures and downloads
def chart(fig, key: str, data=None, name: str | None = None) -> None:
    """A plotly figure with download buttons for the figure (PNG, SVG, HTML) and its data (CSV, JSON)."""
    st.plotly_chart(fig, key=key, config={"displaylogo": False})
    downloads(key, fig=fig, data=data, name=name or key)


def downloads(key: str, fig=None, data=None, name: str = "result") -> None:
    """Download buttons: the figure as PNG, SVG or self-contained HTML, the data as CSV and JSON (or JSON).

    Files are made only when a button is pressed (PNG/SVG start a headless browser: a second or two), so
    reruns do not pay for them.
    """
    buttons = []
    if fig is not None:
        buttons += [(fmt, functools.partial(export.figure_bytes, fig, fmt)) for fmt in ("png", "svg", "html")]
    if data is not None:
        formats = ("csv", "json") if isinstance(data, pd.DataFrame) else ("json",)
        buttons += [(fmt, functools.partial(export.data_bytes, data, fmt)) for fmt in formats]
    if not buttons:
        return
    with st.popover("Download", icon=":material/download:"):
        for fmt, payload in buttons:
            st.download_button(fmt.upper() + _WHAT[fmt], payload, file_name=f"{name}.{fmt}", mime=_MIME[fmt],
                               key=f"dl-{key}-{fmt}", on_click="ignore", width="stretch")


_WHAT = {"png": " image", "svg": " image", "html": " (interactive)", "csv": " data", "json": " data"}
_MIME = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html", "csv": "text/csv",
         "json": "application/json"}


def job_just_ended(state: str, folder: Path, key: str) -> bool:
    """For a fragment watching a background job in ``folder``: True once, on the first poll after it stopped
    running (the page then redraws its buttons); ``key`` names the watcher in the session."""
    if state == "running":
        st.session_state[key] = str(folder)
        return False
    return st.session_state.pop(key, None) == str(folder)

