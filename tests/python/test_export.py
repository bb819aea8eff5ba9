"""Reads back what ``isf db export`` wrote, with numpy, pandas and pyarrow.

Run by ``tests/store/export_tables.rs`` as ``python tests/python/test_export.py DIR STORE``; DIR holds the
exports and ``expected.json`` (the stored trace samples, grid times as decimal text, spike
times, sweep values, trials and seeds, straight from the store).
"""

import json
import os
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

D = sys.argv[1]
with open(os.path.join(D, "expected.json")) as f:
    EXP = json.load(f)
W = EXP["width"]
VM = np.array(EXP["vm"]).reshape(4, W)
# The grid's decimal times, parsed from their text: what a float column must hold exactly.
TIMES = np.array([float(t) for t in EXP["times"]])
AMP = "stimulus.step.amp_nA"
passed = 0


def check(name):
    def wrap(fn):
        global passed
        fn()
        passed += 1
        print(f"ok {name}")
        return fn
    return wrap


@check("tidy.parquet: typed columns, one row per trial x sample, exact times")
def _():
    t = pq.read_table(os.path.join(D, "tidy.parquet"))
    assert t.column_names == ["sim_trial_index", "point", "trial", "seed", AMP, "time_ms", "vm"], t.column_names
    s = t.schema
    assert s.field(AMP).type == pa.float64() and s.field("trial").type == pa.int64()
    assert s.field("seed").type == pa.string() and s.field("time_ms").type == pa.float64()
    assert t.num_rows == 4 * W
    assert t.schema.metadata[f"{AMP}.unit".encode()] == b"nA"
    df = t.to_pandas()
    assert (df["time_ms"].to_numpy() == np.tile(TIMES, 4)).all()
    assert (df["vm"].to_numpy() == VM.ravel()).all()
    assert (df[AMP].to_numpy() == np.repeat(EXP["amp"], W)).all()
    assert (df["trial"].to_numpy() == np.repeat(EXP["trial"], W)).all()
    assert list(df["seed"].unique()) == EXP["seed"]
    # Addressable by sweep value: the 1.5 nA trials, no label parsing.
    hi = df[df[AMP] == 1.5]
    assert (hi["vm"].to_numpy() == VM[2:].ravel()).all()


@check("tidy.npy: structured array, same table as the Parquet file")
def _():
    a = np.load(os.path.join(D, "tidy.npy"))  # no pickle: plain fields
    assert a.dtype.names == ("sim_trial_index", "point", "trial", "seed", AMP, "time_ms", "vm"), a.dtype.names
    assert a.dtype[AMP] == np.float64 and a.dtype["trial"] == np.int64 and a.dtype["seed"].kind == "U"
    df = pd.DataFrame(a)
    ref = pq.read_table(os.path.join(D, "tidy.parquet")).to_pandas()
    pd.testing.assert_frame_equal(df, ref, check_dtype=False)
    assert (a["time_ms"][:W] == TIMES).all()


@check("long.parquet: time column plus one column per trial")
def _():
    df = pq.read_table(os.path.join(D, "long.parquet")).to_pandas()
    cols = [f"{AMP}={a} trial={t}" for a, t in zip(EXP["amp"], EXP["trial"])]
    assert list(df.columns) == ["time_ms"] + cols, list(df.columns)
    assert (df["time_ms"].to_numpy() == TIMES).all()
    for i, c in enumerate(cols):
        assert (df[c].to_numpy() == VM[i]).all()


@check("long.npy: the same as a structured array")
def _():
    a = np.load(os.path.join(D, "long.npy"))
    assert a.shape == (W,)
    assert (a["time_ms"] == TIMES).all()
    assert (a[a.dtype.names[4]] == VM[3]).all()


@check("wide.npy: the trace matrix as a plain 2-D array (unchanged)")
def _():
    a = np.load(os.path.join(D, "wide.npy"))
    assert a.shape == (4, W) and a.dtype == np.float64
    assert (a == VM).all()


@check("wide.parquet: one column per sample time")
def _():
    df = pq.read_table(os.path.join(D, "wide.parquet")).to_pandas()
    assert list(df.columns[:5]) == ["sim_trial_index", "point", "trial", "seed", AMP]
    assert [float(c) for c in df.columns[5:]] == list(TIMES)
    assert list(df.columns[5:8]) == ["0", "0.025", "0.05"]
    assert (df.iloc[:, 5:].to_numpy() == VM).all()


@check("events.parquet: one row per spike, exact grid times")
def _():
    t = pq.read_table(os.path.join(D, "events.parquet"))
    assert t.column_names == ["sim_trial_index", "point", "trial", "seed", AMP, "time_ms"]
    df = t.to_pandas()
    want = np.concatenate([np.array(s, dtype=float) for s in EXP["spikes"]])
    assert len(df) == len(want) > 0
    assert (df["time_ms"].to_numpy() == want).all()
    # Every spike time is one of the grid's times.
    assert np.isin(df["time_ms"].to_numpy(), TIMES).all()
    counts = df.groupby(AMP).size()
    assert counts[1.5] == len(EXP["spikes"][2]) + len(EXP["spikes"][3])


@check("events.npy: one record per spike")
def _():
    a = np.load(os.path.join(D, "events.npy"))
    want = np.concatenate([np.array(s, dtype=float) for s in EXP["spikes"]])
    assert (a["time_ms"] == want).all()
    assert (a[AMP] == np.repeat(EXP["amp"], [len(s) for s in EXP["spikes"]])).all()


@check("events_wide.parquet: a list column of spike times per trial")
def _():
    t = pq.read_table(os.path.join(D, "events_wide.parquet"))
    assert pa.types.is_list(t.schema.field("times_ms").type), t.schema
    got = t.column("times_ms").to_pylist()
    assert got == EXP["spikes"], (got, EXP["spikes"])


@check("trials.npy: a column of every trial table of a sub-store, as one array")
def _():
    a = np.load(os.path.join(D, "trials.npy"))
    assert a.shape == (4, W) and (a == VM).all()


@check("isf_store: a run's trace table indexed by sim_trial_index and the trial columns")
def _():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "store", "python"))
    from isf_store import Store

    df = Store(sys.argv[2])["small/traces/soma.v"]
    assert list(df.index.names) == ["sim_trial_index", "point", "trial", "seed", AMP], df.index.names
    assert [float(c) for c in df.columns] == list(TIMES)
    assert (df.xs(1.5, level=AMP).to_numpy() == VM[2:]).all()


print(f"export checks passed: {passed}")
