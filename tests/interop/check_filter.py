"""Row filters against pandas: reads CSV with pandas' nullable dtypes (whose `&`, `|`, `~` and
comparisons follow SQL's three-valued logic, as larder's filters do) and prints, for each
boolean-mask expression over `df`, the matching row numbers as JSON.

usage: check_filter.py DATA.csv MASKS.json  (a list of Python expressions over df, np, pd)
"""

import json
import sys

import numpy as np
import pandas as pd

csv, masks = sys.argv[1], sys.argv[2]
df = pd.read_csv(
    csv,
    dtype={"i": "Int64", "f": "float64", "c": "string", "s": "string", "b": "boolean"},
    parse_dates=["t"],
    keep_default_na=False,
    na_values={"i": [""], "f": [""], "c": [""], "s": [""], "b": [""], "t": [""]},
)
out = []
for text in json.load(open(masks)):
    m = eval(text, {"df": df, "np": np, "pd": pd})
    m = pd.Series(m, index=df.index).astype("boolean").fillna(False).to_numpy(dtype=bool)
    out.append(np.flatnonzero(m).tolist())
json.dump(out, sys.stdout)
