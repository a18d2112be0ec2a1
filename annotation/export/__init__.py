"""Dataset export: streaming records out of the database and writing VideoAlign CSV, JSONL or Parquet."""
