"""Read the Parquet files of ``isf db export`` into the pandas objects :class:`isf_store.Run`
gives (needs pyarrow).

``isf db export STORE KEY --format parquet`` writes a run table in one of three layouts, with
the table's attributes (units ``<column>.unit``, ``trial_columns``, ``sweep_columns``,
``recording``, ``layout``) in the file's key-value metadata. :func:`read_parquet` turns the
file back into the frame of the matching ``Run`` call, indexed by the sweep values (level
names without the unit suffix, units in ``df.attrs["units"]``) and the trial::

    from isf_store import read_parquet, Store
    run = Store("examples/results/quickstart.isfdb").run("quickstart")
    read_parquet("wide.parquet")     # == run.traces("soma.v"): rows (amp, trial), columns times
    read_parquet("long.parquet")     # the same frame (long is its transpose on disk)
    read_parquet("tidy.parquet")     # == run.traces("soma.v", layout="tidy")
    read_parquet("spikes.parquet")   # == run.events() (wide) or run.events(layout="tidy")

Tidy frames keep ``point`` (``sweep_point`` in per-trial tables with a ``point`` of their
own) and ``seed`` (an unsigned 64-bit integer, as ``run.trials()`` gives it) as columns. A
file without trial columns (an analysis result, a value) is returned as a plain DataFrame.
"""

import json
import re

import numpy as np

from .tables import SWEEP_COLUMNS, TRIAL_COLUMNS

_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^NaN$|^-?inf$")


def seeds(values):
    """Seeds as ``uint64`` from 16-hex-digit text or integers (``UInt64`` with missing
    values when some are unknown)."""
    import pandas as pd

    out = []
    for v in values:
        if v is None or (isinstance(v, str) and v == ""):
            out.append(None)
        elif isinstance(v, str):
            out.append(int(v, 16))
        else:
            out.append(int(v))
    if any(v is None for v in out):
        return pd.array(out, dtype="UInt64")
    return np.array(out, dtype=np.uint64)


def axis_name(column, attrs):
    """The sweep axis of an exported sweep column: ``stimulus.step.amp_nA`` → the level name
    ``stimulus.step.amp`` (the unit suffix removed) and its unit."""
    unit = attrs.get(f"{column}.unit", "")
    if unit and unit != "1" and column.endswith(f"_{unit}"):
        return column[: -len(unit) - 1], unit
    return column, unit


def _meta(schema):
    out = {}
    for k, v in (schema.metadata or {}).items():
        k, v = k.decode(), v.decode()
        if k in (TRIAL_COLUMNS, SWEEP_COLUMNS):
            v = json.loads(v)
        out[k] = v
    return out


def _index(df, sweep, attrs, extra=()):
    import pandas as pd

    arrays, names, units = [], [], {}
    for c in sweep:
        axis, unit = axis_name(c, attrs)
        arrays.append(df[c].to_numpy())
        names.append(axis)
        if unit:
            units[axis] = unit
    for c in ("trial",) + tuple(extra):
        arrays.append(df[c].to_numpy())
        names.append(c)
    return pd.MultiIndex.from_arrays(arrays, names=names), units


def _parse_long_label(label, parts):
    """``a_nA=0.5 trial=1`` → ``[0.5, 1]`` for the parts ``[a_nA, trial]``; ``None`` when the
    label is not of that form."""
    values, rest = [], label
    for i, p in enumerate(parts):
        if not rest.startswith(f"{p}="):
            return None
        rest = rest[len(p) + 1:]
        if i + 1 < len(parts):
            cut = rest.find(f" {parts[i + 1]}=")
            if cut < 0:
                return None
            values.append(rest[:cut])
            rest = rest[cut + 1:]
        else:
            values.append(rest)
    return values


def read_parquet(path):
    """A Parquet export of isf as the frame of the matching :class:`isf_store.Run` call
    (see the module documentation)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # optional dependency
        raise ImportError("read_parquet needs pyarrow: pip install pyarrow") from e
    import pandas as pd

    table = pq.read_table(path)
    attrs = _meta(table.schema)
    df = table.to_pandas()
    trial_cols = attrs.get(TRIAL_COLUMNS, [])
    sweep = attrs.get(SWEEP_COLUMNS, [])
    layout = attrs.get("layout") or _guess_layout(table)
    ids = [c for c in trial_cols if c not in sweep]  # point/sweep_point, trial, seed
    plain_attrs = {k: v for k, v in attrs.items() if k not in (TRIAL_COLUMNS, SWEEP_COLUMNS, "layout")}

    if layout == "long" and "trial" in trial_cols:
        tcol = df.columns[0]
        parts = list(sweep) + ["trial"]
        compartments = any(" compartment=" in str(c) for c in df.columns[1:])
        if compartments:
            parts.append("compartment")
        rows = [_parse_long_label(str(c), parts) for c in df.columns[1:]]
        if all(r is not None for r in rows):
            arrays, names, units = [], [], {}
            for j, p in enumerate(parts):
                vals = [r[j] for r in rows]
                if p in ("trial", "compartment"):
                    arrays.append(np.array([int(v) for v in vals], dtype=np.int64))
                    names.append(p)
                    continue
                axis, unit = axis_name(p, attrs)
                if all(_NUMBER.match(v) for v in vals):
                    arrays.append(np.array([float(v) for v in vals]))
                else:
                    arrays.append(np.array(vals, dtype=object))
                names.append(axis)
                if unit:
                    units[axis] = unit
            index = pd.MultiIndex.from_arrays(arrays, names=names)
            columns = pd.Index(df[tcol].to_numpy(), name=tcol)
            out = pd.DataFrame(df.iloc[:, 1:].to_numpy().T, index=index, columns=columns)
            out.attrs.update(plain_attrs)
            out.attrs["units"] = units
            return out
    if "trial" not in df.columns or layout == "long":
        df.attrs.update(plain_attrs)
        return df

    extra = ("compartment",) if layout == "wide" and "compartment" in df.columns else ()
    index, units = _index(df, sweep, attrs, extra)
    if layout == "wide":
        rest = [c for c in df.columns
                if c not in trial_cols and c not in ("sim_trial_index",) + extra]
        lists = [c for c in rest if table.schema.field(c).type.num_fields == 1]
        if len(rest) == 1 and lists:
            s = pd.Series([np.asarray(v, dtype=np.float64) for v in df[rest[0]]], index=index,
                          name=attrs.get("recording", rest[0]))
            s.attrs.update(plain_attrs)
            s.attrs["units"] = units
            return s
        out = df[rest]
        out.index = index
        if rest and all(_NUMBER.match(str(c)) for c in rest):
            out.columns = pd.Index([float(c) for c in rest], name="time_ms")
    else:
        keep = [c for c in df.columns if c not in sweep and c not in ("sim_trial_index", "trial")]
        out = df[keep].copy()
        out.index = index
        if "seed" in out.columns and "seed" in ids:
            out["seed"] = seeds(out["seed"])
    out.attrs.update(plain_attrs)
    out.attrs["units"] = units
    return out


def _guess_layout(table):
    """For files written before isf recorded the layout: wide when a column is a list or is
    named by a sample time, long when the first column is the time, tidy otherwise."""
    names = table.column_names
    if names and names[0] in ("time_ms", "sample") and "trial" not in names:
        return "long"
    for f in table.schema:
        if f.type.num_fields == 1 or _NUMBER.match(f.name) or re.search(r"\[\d+\]$", f.name):
            return "wide"
    return "tidy"
