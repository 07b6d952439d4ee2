"""Analyses: functions of Traces (or of a model plus data) that return plain dataclasses / DataFrames,
with plotly figures built separately from that data. Surfaces (CLI, Streamlit) call these.

Most analyses need torch; the package imports each submodule on first use (``analysis.probing``), so a page that
writes ``from explorer import analysis`` imports torch only when it runs one."""
from ..lazy import attach

__getattr__, __dir__ = attach(__name__)
