"""Exporting results: figures to HTML (plotly.js inlined, no CDN), PNG or SVG; data to JSON, CSV or NPZ.

PNG and SVG go through kaleido, which drives a local Chromium (Debian's /usr/bin/chromium works offline).
"""
import dataclasses
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from ..errors import ExplorerError

FIGURE_FORMATS = ("html", "png", "svg", "json")
DATA_FORMATS = ("json", "csv", "npz")
PNG_SIZE = dict(width=1000, height=560)  # every figure a command or a result folder writes as PNG


def _image_error(fmt: str, e: Exception) -> ExplorerError:
    # kaleido reports a missing or broken browser in many ways
    return ExplorerError(f"could not draw the figure as {fmt.upper()} ({type(e).__name__}: {e}): "
                         "install Chromium (apt-get install chromium), or export HTML instead")


def figure_bytes(fig: go.Figure, fmt: str) -> bytes:
    """A figure as a file's bytes, for saving or a download button."""
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True).encode()
    if fmt == "json":
        return fig.to_json().encode()
    if fmt in ("png", "svg"):
        try:
            return pio.to_image(fig, format=fmt, scale=2 if fmt == "png" else 1)
        except Exception as e:
            raise _image_error(fmt, e) from None
    raise ExplorerError(f"unknown figure format {fmt!r}: use one of {FIGURE_FORMATS}")


def _plain(obj):
    """Something json.dumps accepts: dataclasses, arrays, tensors and DataFrames turned into lists and dicts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, pd.DataFrame):
        return obj.to_dict(orient="records")
    if hasattr(obj, "detach"):  # a torch tensor, without importing torch here
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _arrays(data) -> dict[str, np.ndarray]:
    if isinstance(data, np.ndarray):
        return {"data": data}
    if isinstance(data, dict) or (dataclasses.is_dataclass(data) and not isinstance(data, type)):
        plain = data if isinstance(data, dict) else {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
        return {k: np.asarray(_plain(v)) for k, v in plain.items() if v is not None}
    raise ExplorerError("only arrays, dicts of arrays and results with array fields can be saved as NPZ")


def data_bytes(data, fmt: str) -> bytes:
    """A table, an array, a dict or a result dataclass as JSON, CSV (tables and 1-2-d arrays) or NPZ bytes."""
    if fmt == "json":
        return json.dumps(_plain(data), indent=1, allow_nan=True).encode()
    if fmt == "csv":
        if isinstance(data, np.ndarray) and data.ndim <= 2:
            data = pd.DataFrame(np.atleast_2d(data))
        if not isinstance(data, pd.DataFrame):
            raise ExplorerError("only tables and 1-2-dimensional arrays can be saved as CSV: use JSON or NPZ")
        return data.to_csv(index=False).encode()
    if fmt == "npz":
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **_arrays(data))
        return buffer.getvalue()
    raise ExplorerError(f"unknown data format {fmt!r}: use one of {DATA_FORMATS}")


def _format(path: Path, allowed) -> str:
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in allowed:
        raise ExplorerError(f"{path}: the file name must end in one of {', '.join('.' + f for f in allowed)}")
    return fmt


def write_html(fig: go.Figure, path) -> Path:
    """A figure as HTML that reads plotly.js from one copy in the folder above, shared by the result folders kept
    side by side there (4.8 MB once, not per folder); it opens offline from there."""
    path = Path(path)
    shared = path.parent.parent / f"plotly-{plotly.__version__}.min.js"  # versioned: an older copy never mismatches
    if not shared.exists():
        partial = shared.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(get_plotlyjs(), encoding="utf-8")
        partial.replace(shared)
    fig.write_html(path, include_plotlyjs=f"../{shared.name}")
    return path


def save_data(data, path) -> Path:
    """Write data; the format follows the file name (.json, .csv, .npz)."""
    path = Path(path)
    content = data_bytes(data, _format(path, DATA_FORMATS))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def save_figures(figures: dict[str, go.Figure], directory, png: bool = False) -> str:
    """Each named figure as HTML (write_html) and, with ``png``, as a PNG of PNG_SIZE, all in one browser start.
    Returns what became of the PNGs: "written", "not asked" or "skipped: why" (kaleido needs a headless Chromium;
    the HTML figures are complete without them)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        write_html(fig, directory / f"{name}.html")
    if not png or not figures:
        return "not asked"
    paths = [directory / f"{name}.png" for name in figures]
    try:
        pio.write_images(list(figures.values()), paths, format="png", **PNG_SIZE)
    except Exception as e:
        for path in paths:
            path.unlink(missing_ok=True)
        return f"skipped: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return "written"
