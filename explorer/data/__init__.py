"""Data: readers for real datasets, text corpora, and the project's own demo sets."""
