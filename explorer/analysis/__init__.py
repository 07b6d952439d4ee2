"""Analyses: functions of Traces (or of a model plus data) that return plain dataclasses / DataFrames,
with plotly figures built separately from that data. Surfaces (CLI, Streamlit) call these."""
