"""Output: Rich tables on a terminal, and JSON, NDJSON, CSV and Markdown for machines."""
