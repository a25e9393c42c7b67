"""Dataset.filter: a Dataset of the rows where a condition holds, equal to pandas' answer."""

import gc
import os

import numpy as np
import pandas as pd
import pytest

import larder


@pytest.fixture
def log(tmp_path):
    csv = tmp_path / "log.csv"
    csv.write_text(
        "region,status,latency,msg\n"
        "eu,200,1.5,hello\n"
        "us,,2.5,world\n"
        "eu,500,,a b\n"
        "ap,404,0.5,\n"
        "eu,201,3.5,héllo\n"
    )
    larder.convert(csv, tmp_path / "log", types={"msg": "str"})
    return larder.Dataset(tmp_path / "log")


def test_filter_gives_the_rows_pandas_query_gives(log):
    df = log.to_pandas()
    for expr, mask in [
        ("region = 'eu'", df.region == "eu"),
        ("status >= 300 OR latency IS NULL", (df.status >= 300) | df.latency.isna()),
        ("NOT status = 200", ~(df.status == 200)),
        ("msg LIKE 'h%'", df.msg.str.startswith("h")),
        ("latency > 100", df.latency > 100),
    ]:
        want = df[mask.fillna(False).astype(bool)].reset_index(drop=True)
        got = log.filter(expr)
        assert len(got) == len(want), expr
        pd.testing.assert_frame_equal(got.to_pandas(), want, check_categorical=False)
        assert got.to_arrow().num_rows == len(want)


def test_filter_to_a_path_keeps_it_and_a_temporary_goes_with_the_dataset(log, tmp_path):
    out = tmp_path / "eu"
    eu = log.filter("region = 'eu'", out=out, columns=["status", "region"])
    assert eu.columns == ["status", "region"]
    assert eu["status"].to_numpy().tolist() == [200, 500, 201]
    del eu
    gc.collect()
    assert (out / "manifest.json").exists()
    t = log.filter("region = 'us'")
    path = t.path
    assert os.path.exists(path)
    del t
    gc.collect()
    assert not os.path.exists(path)


def test_filter_errors_mark_the_position(log, tmp_path):
    with pytest.raises(ValueError, match=r"no category 'mars'.*at character 10"):
        log.filter("region = 'mars'")
    with pytest.raises(larder.ArgumentError, match="cannot compare an integer with a string"):
        log.filter("status = 'x'")
    (tmp_path / "taken").mkdir()
    with pytest.raises(larder.LarderError, match="already exists"):
        log.filter("region = 'eu'", out=tmp_path / "taken")
    assert np.array(list((tmp_path / "taken").iterdir())).size == 0
