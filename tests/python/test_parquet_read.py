"""``isf_store.read_parquet`` and ``Store.export_table`` against isf's own exports.

Run by ``tests/python_parquet.rs`` as ``python test_parquet_read.py DIR SMALL_DB NET_DB``;
DIR holds the Parquet exports and ``rust_glue.json`` (the tables isf's export glues from the
sub-stores ``small/trials`` and ``E/synapse_activations``).
"""

import json
import math
import os
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from isf_store import Store, read_parquet
from isf_store.exports import seeds

D, SMALL, NET = sys.argv[1], sys.argv[2], sys.argv[3]
run = Store(SMALL).run("small")
AXES = ["stimulus.step.amp", "trial"]
passed = 0


def check(name):
    def wrap(fn):
        global passed
        fn()
        passed += 1
        print(f"ok {name}")
        return fn
    return wrap


def same(got, want):
    """Exact equality of two frames or series, index and dtypes included."""
    if isinstance(want, pd.Series):
        assert isinstance(got, pd.Series), type(got)
        pd.testing.assert_index_equal(got.index, want.index, exact=True)
        assert got.name == want.name, (got.name, want.name)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and np.array_equal(a, b), (a, b)
        return
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@check("traces wide: the frame of run.traces(), typed index and units")
def _():
    got = read_parquet(os.path.join(D, "traces_wide.parquet"))
    want = run.traces("soma.v")
    assert list(got.index.names) == AXES, got.index.names
    assert got.index.get_level_values(0).dtype == np.float64
    assert got.index.get_level_values(1).dtype == np.int64
    assert got.attrs["units"] == {"stimulus.step.amp": "nA"} == run.units
    assert got.columns.name == "time_ms" and got.columns[3] == 0.075
    same(got, want)


@check("traces long: read back as the same frame")
def _():
    same(read_parquet(os.path.join(D, "traces_long.parquet")), run.traces("soma.v"))


@check("traces tidy: run.traces(layout='tidy'), seeds as run.trials() gives them")
def _():
    got = read_parquet(os.path.join(D, "traces_tidy.parquet"))
    want = run.traces("soma.v", layout="tidy")
    assert list(got.columns) == ["point", "seed", "time_ms", "vm"], list(got.columns)
    assert got["seed"].dtype == np.uint64
    same(got, want)
    per_trial = got.groupby(level=AXES)["seed"].first()
    tr = run.trials()["seed"]
    assert [int(s) for s in per_trial] == [int(s) for s in tr.loc[per_trial.index]]
    # The seeds are the trial keys' metadata seeds.
    meta = [Store(SMALL).metadata(k)["seed"] for k in run.trials()["key"]]
    assert [int(s) for s in run.trials()["seed"]] == meta


@check("events wide: run.events()")
def _():
    got = read_parquet(os.path.join(D, "events_wide.parquet"))
    same(got, run.events())
    assert got.name == "spikes(soma)"


@check("events tidy: run.events(layout='tidy'), one row per spike")
def _():
    got = read_parquet(os.path.join(D, "events_tidy.parquet"))
    want = run.events(layout="tidy")
    assert list(got.columns) == ["point", "seed", "time_ms"], list(got.columns)
    assert len(got) == sum(len(v) for v in run.events()) > 0
    same(got, want)


def _value(v):
    return math.nan if v is None else v


def same_table(t, ref, key):
    """A Python Table equal to the JSON dump of isf's table: names, dtypes, values."""
    names = [s["name"] for s in t.schema]
    assert names == [c["name"] for c in ref["columns"]], (key, names)
    for spec, c in zip(t.schema, ref["columns"]):
        col = t.columns[spec["name"]]
        assert spec["dtype"] == c["dtype"], (key, spec, c["dtype"])
        if c["dtype"] == "f64_array":
            want = np.array([_value(x) for x in c["data"]], dtype=np.float64).reshape(-1, c["width"])
            assert col.shape == want.shape and np.array_equal(col, want, equal_nan=True), spec["name"]
        elif c["dtype"] == "f64_list":
            assert len(col) == len(c["data"])
            for a, b in zip(col, c["data"]):
                assert np.array_equal(a, np.array(b, dtype=np.float64)), spec["name"]
        elif c["dtype"] == "f64":
            want = np.array([_value(x) for x in c["data"]], dtype=np.float64)
            assert col.dtype == np.float64 and np.array_equal(col, want, equal_nan=True), spec["name"]
        elif c["dtype"] == "i64":
            assert col.dtype == np.int64 and list(col) == c["data"], spec["name"]
        else:
            assert list(col) == c["data"], (spec["name"], list(col)[:3], c["data"][:3])
    for k, v in ref["attrs"].items():
        mine = t.attrs.get(k)
        if isinstance(v, list) and v and isinstance(v[0], (int, float)):
            assert np.array_equal(np.asarray(mine, dtype=float), np.asarray(v, dtype=float)), k
        else:
            assert mine == v, (k, mine, v)
    assert set(t.attrs) == set(ref["attrs"]), (set(t.attrs) ^ set(ref["attrs"]))


with open(os.path.join(D, "rust_glue.json")) as f:
    GLUE = json.load(f)


@check("small/trials glued: the table of isf's export, column by column")
def _():
    t = Store(SMALL).export_table("small/trials")
    same_table(t, GLUE["small/trials"], "small/trials")
    assert len(t) == 4


@check("synapse activations glued: trial columns added from metadata, as isf adds them")
def _():
    t = Store(NET).export_table("E/synapse_activations")
    same_table(t, GLUE["E/synapse_activations"], "E/synapse_activations")
    names = [s["name"] for s in t.schema]
    assert names[:5] == ["sim_trial_index", "sweep_point", "trial", "seed",
                         "C2_evoked.*.glutamate.tau_nmda_decay_ms"], names
    assert len(set(t.columns["sim_trial_index"])) == 4


def _label(c):
    """A wide column name as isf writes it: sample times in the shortest exact form."""
    if isinstance(c, float):
        return repr(c).removesuffix(".0") if c == int(c) else repr(c)
    return c


@check("sub-store Parquet exports (wide, tidy) hold Python's glued table")
def _():
    # small/trials, wide: the glued table's DataFrame columns, value for value.
    raw = pq.read_table(os.path.join(D, "trials_wide.parquet")).to_pandas()
    df = Store(SMALL).export_table("small/trials").to_dataframe().reset_index()
    assert list(raw.columns) == [_label(c) for c in df.columns], (list(raw.columns)[:8], list(df.columns)[:8])
    for a, b in zip(raw.columns, df.columns):
        x, y = raw[a].to_numpy(), df[b].to_numpy()
        if x.dtype == object and len(x) and isinstance(x[0], np.ndarray):
            assert all(np.array_equal(p, q) for p, q in zip(x, y)), a
        else:
            assert (x == y).all(), a
    # Activations, tidy: one row per release; the reader's frame against the glued table.
    got = read_parquet(os.path.join(D, "act_tidy.parquet"))
    t = Store(NET).export_table("E/synapse_activations")
    counts = [len(v) for v in t.columns["release_times_ms"]]
    assert len(got) == sum(counts) > 0
    assert list(got.index.names) == ["C2_evoked.*.glutamate.tau_nmda_decay", "trial"]
    assert got.attrs["units"] == {"C2_evoked.*.glutamate.tau_nmda_decay": "ms"}
    assert np.array_equal(got["release_time_ms"].to_numpy(), np.concatenate(list(t.columns["release_times_ms"])))
    assert np.array_equal(got["seed"].to_numpy(), np.repeat(seeds(t.columns["seed"]), counts))
    assert np.array_equal(got.index.get_level_values(0).to_numpy(),
                          np.repeat(t.columns["C2_evoked.*.glutamate.tau_nmda_decay_ms"], counts))
    assert np.array_equal(got["point"].to_numpy(), np.repeat(t.columns["point"], counts))
    # Wide: one row per synapse with its list of release times.
    wide = read_parquet(os.path.join(D, "act_wide.parquet"))
    assert len(wide) == len(t)
    assert all(np.array_equal(np.asarray(a), b) for a, b in zip(wide["release_times_ms"], t.columns["release_times_ms"]))


@check("network traces tidy: the run frame of a network experiment")
def _():
    net = Store(NET).run("E")
    same(read_parquet(os.path.join(D, "net_tidy.parquet")), net.traces("soma.v", layout="tidy"))
    assert net.axes == ["C2_evoked.*.glutamate.tau_nmda_decay"] and net.units == {
        "C2_evoked.*.glutamate.tau_nmda_decay": "ms"}


@check("sweep cells: the names, units and values of run::tables::sweep_cells' unit test")
def _():
    from isf_store.tables import sweep_cells
    point = {"stimulus.step.amp": {"value": 0.4, "unit": "nA"},
             "syn.distance": [{"value": 10, "unit": "um"}, {"value": 20.5, "unit": "um"}],
             "syn.regions": ["basal", "apical"], "n": {"value": 3, "unit": "1"}}
    c = sweep_cells(point)
    assert [x[0] for x in c] == ["n", "stimulus.step.amp_nA", "syn.distance.from_um",
                                 "syn.distance.to_um", "syn.regions"], c
    assert [x[1] for x in c] == ["n", "stimulus.step.amp", "syn.distance.from",
                                 "syn.distance.to", "syn.regions"], c
    assert c[1][2:] == ("nA", 0.4) and c[3][2:] == ("um", 20.5) and c[4][3] == "basal,apical"
    assert c[0][2:] == ("1", 3.0)


print(f"parquet checks passed: {passed}")
