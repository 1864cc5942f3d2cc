"""Reads every exported table with pandas and with polars, independently of census.

Usage: python3 read_tables.py DIR
Prints one JSON object: for each `<table>.parquet` in DIR, its row count and each column's type as
pandas/pyarrow and polars see it, and whether the two libraries agree on the row count.
"""
import json
import pathlib
import sys

import pandas as pd
import polars as pl
import pyarrow.parquet as pq


def describe(path):
    frame = pd.read_parquet(path)
    lazy = pl.read_parquet(path)
    schema = pq.read_schema(path)
    return {
        "rows": len(frame),
        "polars_rows": lazy.height,
        "columns": [field.name for field in schema],
        "arrow": {field.name: str(field.type) for field in schema},
        "polars": {name: str(dtype) for name, dtype in lazy.schema.items()},
    }


folder = pathlib.Path(sys.argv[1])
print(json.dumps({p.stem: describe(p) for p in sorted(folder.glob("*.parquet"))}))
