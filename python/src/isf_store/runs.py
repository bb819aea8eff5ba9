"""Results of ``isf run`` as pandas objects indexed by sweep values and trial.

An experiment ``EXP`` run into a store holds one key per work item (``EXP/trials/pP_tT``,
whose metadata carries the item's sweep values and seed) and the assembled tables
``EXP/traces/NAME`` and ``EXP/events/NAME`` with one row per item, labelled ``pP/tT``
(``docs/store-format.md`` §9). :class:`Run` joins the two: every row gets the sweep values of
its point and its trial number as a :class:`pandas.MultiIndex`, so a sweep summary is a
``groupby`` away::

    from isf_store import Store
    run = Store("examples/results/quickstart.isfdb").run("quickstart")
    counts = run.spike_counts()                  # index (stimulus.step.amp, trial)
    counts.groupby(level=0).mean()               # spikes per trial at each amplitude

Lazy: nothing is read when a :class:`Run` is made; the trial metadata is read (entries only,
one per sweep point) the first time an index is needed, and each table when it is asked for.
Sweep values are numbers in the unit the script's sweep used (``run.units``); the levels are
those of isf's export columns without the unit suffix (``isf_store.tables.sweep_cells``): a
distance range is two levels ``path.from``/``path.to``, a list of regions one comma-separated
string. ``isf_store.read_parquet`` reads ``isf db export`` Parquet files back into these frames.
"""

import re

import numpy as np

from .store import StoreError
from .exports import seeds as _seeds
from .tables import sweep_cells

_LABEL = re.compile(r"^p(\d+)/t(\d+)$")
_TRIAL_KEY = re.compile(r"^p(\d+)_t(\d+)$")


class Run:
    """One experiment's results in a store (see the module documentation)."""

    def __init__(self, store, experiment):
        self.store = store
        self.name = experiment
        self._points = None  # point -> {axis: value}
        self._units = None
        self._seeds = None

    def __repr__(self):
        return f"Run({self.store.path!r}, {self.name!r})"

    # ---- what is stored ---------------------------------------------------------------

    def _sub(self, group):
        try:
            return self.store[f"{self.name}/{group}"]
        except StoreError:
            return None

    def _names(self, group):
        sub = self._sub(group)
        if sub is None:
            return {}
        out = {}
        for k in sub.keys():
            if sub.kind(k) != "table":  # per-point sub-store (duration or dt swept)
                out[k] = k
                continue
            out[sub.load_table_attrs(k).get("recording", k)] = k
        return out

    def traces_names(self):
        """Recording names of the assembled trace tables (``soma.v``, …)."""
        return list(self._names("traces"))

    def events_names(self):
        """Recording names of the assembled event tables (``spikes(soma)``, …)."""
        return list(self._names("events"))

    def _key(self, group, name):
        names = self._names(group)
        if name is None:
            if not names:
                raise StoreError("E0604", f"{self.name}/{group}", "no tables: is the run complete?")
            return next(iter(names.values()))
        if name in names:
            return names[name]
        if name in names.values():
            return name
        raise StoreError("E0604", f"{self.name}/{group}/{name}",
                         f"no such recording; stored: {', '.join(names) or 'none'}")

    # ---- sweep values and trials ----------------------------------------------------------

    def _load_points(self):
        if self._points is not None:
            return
        trials = self._sub("trials")
        if trials is None:
            raise StoreError("E0604", f"{self.name}/trials", "not a run of isf (no trial keys)")
        points, units, seeds = {}, {}, {}
        for k in trials.keys():
            m = _TRIAL_KEY.match(k)
            if not m:
                continue
            p, t = int(m.group(1)), int(m.group(2))
            if p in points:
                seeds[(p, t)] = None  # read on demand by trials()
                continue
            meta = trials.metadata(k)
            vals = {}
            for _column, axis, unit, value in sweep_cells(meta.get("sweep_point")):
                vals[axis] = value
                if unit:
                    units[axis] = unit
            points[p] = vals
            seeds[(p, t)] = meta.get("seed")
        self._points, self._units, self._seeds = points, units, seeds

    @property
    def axes(self):
        """The sweep axes (paths as written in the script), in the order of the index."""
        self._load_points()
        for vals in self._points.values():
            return list(vals)
        return []

    @property
    def units(self):
        """Unit of each numeric sweep axis, e.g. ``{"stimulus.step.amp": "nA"}``."""
        self._load_points()
        return dict(self._units)

    def _index(self, labels):
        """A MultiIndex (sweep axes…, trial) for ``pP/tT`` labels."""
        import pandas as pd

        self._load_points()
        axes = self.axes
        rows = []
        for label in labels:
            m = _LABEL.match(str(label))
            if not m:
                raise StoreError("E0605", self.name, f"row label {label!r} is not pPPPPPP/tTTTTTT")
            p, t = int(m.group(1)), int(m.group(2))
            vals = self._points.get(p)
            if vals is None:
                raise StoreError("E0604", f"{self.name}/trials", f"no trial key for sweep point {p}")
            rows.append(tuple(vals.get(a) for a in axes) + (t,))
        return pd.MultiIndex.from_tuples(rows, names=axes + ["trial"])

    def trials(self):
        """One row per work item: ``point``, ``seed`` and the trial key, indexed by sweep
        values and trial (reads every trial key's entry)."""
        import pandas as pd

        self._load_points()
        trials = self._sub("trials")
        items = sorted(self._seeds)
        seeds = []
        for p, t in items:
            s = self._seeds[(p, t)]
            if s is None:
                s = trials.metadata(f"p{p:06d}_t{t:06d}").get("seed")
            seeds.append(s)
        df = pd.DataFrame(
            {"point": np.array([p for p, _ in items], dtype=np.int64), "seed": _seeds(seeds),
             "key": [f"{self.name}/trials/p{p:06d}_t{t:06d}" for p, t in items]},
            index=self._index([f"p{p:06d}/t{t:06d}" for p, t in items]))
        df.attrs["units"] = self.units
        return df

    # ---- tables -------------------------------------------------------------------------

    def traces(self, name=None, layout="wide"):
        """A trace recording (default: the first, e.g. ``soma.v``) as a DataFrame: one row per
        trial indexed by (sweep values…, trial), one column per sample time (ms). When
        ``duration`` or ``dt`` is swept, the points' tables are concatenated (columns are the
        union of their times). ``df.attrs`` holds the table's attributes (``dt_ms``,
        ``recording``, ``vm.precision`` when a precision was declared) and ``units``.

        ``layout="tidy"``: one row per trial and sample, the same index, columns ``point``,
        ``seed`` (uint64), ``time_ms`` and the value (``vm``) — what ``isf db export
        --layout tidy`` writes, as :func:`isf_store.read_parquet` reads it back."""
        import pandas as pd

        key = self._key("traces", name)
        sub = self._sub("traces")
        if sub.kind(key) == "store":
            parts = [self._trace_frame(sub[key], k) for k in sub[key].keys()]
            wide = pd.concat(parts) if parts else pd.DataFrame()
        else:
            wide = self._trace_frame(sub, key)
        wide.attrs["units"] = self.units
        if layout == "wide":
            return wide
        if layout != "tidy":
            raise ValueError(f"layout {layout!r}: traces come wide or tidy (long is wide.T)")
        return self._tidy(wide, wide.attrs.get("column", "vm"), "time_ms")

    def _tidy(self, wide, value, time_name):
        """Rows of ``wide`` (a frame of samples, or a Series of event arrays) one per sample or
        event, with the trial's ``point`` and ``seed`` in front."""
        import pandas as pd

        trials = self.trials()
        if isinstance(wide, pd.Series):
            lens = wide.map(len).to_numpy()
            times = np.concatenate([np.asarray(v, dtype=np.float64) for v in wide]) \
                if len(wide) else np.empty(0)
            pos = np.repeat(np.arange(len(wide)), lens)
            cols = {time_name: times}
        else:
            width = wide.shape[1]
            pos = np.repeat(np.arange(len(wide)), width)
            cols = {time_name: np.tile(wide.columns.to_numpy(dtype=np.float64), len(wide)),
                    value: wide.to_numpy().ravel()}
        index = wide.index[pos]
        by_trial = trials.reindex(wide.index.droplevel("compartment")
                                  if "compartment" in wide.index.names else wide.index)
        front = {"point": by_trial["point"].to_numpy()[pos],
                 "seed": _seeds(list(by_trial["seed"].to_numpy()[pos]))}
        if "compartment" in wide.index.names:
            front["compartment"] = index.get_level_values("compartment").to_numpy()
            index = index.droplevel("compartment")
        out = pd.DataFrame({**front, **cols}, index=index)
        out.attrs.update(wide.attrs)
        return out

    def _trace_frame(self, sub, key):
        import pandas as pd

        t = sub.load_table(key)
        arrays = [s["name"] for s in t.schema if s["dtype"] == "f64_array"]
        col = "vm" if "vm" in arrays else arrays[0]
        times = t.attrs.get(f"{col}.labels")
        data = t.columns[col]
        cols = pd.Index(list(times) if times is not None else range(data.shape[1]), name="time_ms")
        index = self._index(t.columns["sim_trial_index"])
        if "compartment" in t.columns:  # wide recording: one row per (item, compartment)
            index = pd.MultiIndex.from_arrays(
                [index.get_level_values(i) for i in range(index.nlevels)] + [t.columns["compartment"]],
                names=list(index.names) + ["compartment"])
        df = pd.DataFrame(data, index=index, columns=cols)
        df.attrs.update({k: v for k, v in t.attrs.items() if not k.endswith(".labels")})
        df.attrs["column"] = col
        return df

    def events(self, name=None, layout="wide"):
        """An event recording (default: the first, e.g. ``spikes(soma)``) as a Series of numpy
        arrays of times (ms), one per trial, indexed by (sweep values…, trial).

        ``layout="tidy"``: one row per event, the same index, columns ``point``, ``seed``
        (uint64) and ``time_ms`` (what ``isf db export --layout tidy`` writes)."""
        import pandas as pd

        key = self._key("events", name)
        t = self._sub("events").load_table(key)
        s = pd.Series(list(t.columns["times_ms"]), index=self._index(t.columns["sim_trial_index"]),
                      name=t.attrs.get("recording", key))
        s.attrs.update({k: v for k, v in t.attrs.items() if k not in ("trial_columns", "sweep_columns")})
        s.attrs["units"] = self.units
        if layout == "wide":
            return s
        if layout != "tidy":
            raise ValueError(f"layout {layout!r}: events come wide or tidy")
        return self._tidy(s, None, "time_ms")

    def spike_counts(self, name=None):
        """Events per trial (default recording: the first event table) as an integer Series
        indexed by (sweep values…, trial)."""
        ev = self.events(name)
        return ev.map(len).astype(np.int64).rename(f"count {ev.name}")

    def to_xarray(self, name=None):
        """A trace recording as an ``xarray.DataArray`` with dimensions (sweep axes…, trial,
        time_ms), for a grid sweep with equal trial counts (needs xarray)."""
        try:
            import xarray  # noqa: F401
        except ImportError as e:  # optional dependency
            raise ImportError("to_xarray needs xarray: pip install xarray") from e
        df = self.traces(name)
        stacked = df.stack()
        stacked.name = df.attrs.get("recording", name or "trace")
        da = stacked.to_xarray()
        da.attrs.update({k: v for k, v in df.attrs.items() if isinstance(v, (int, float, str))})
        for axis, unit in self.units.items():
            if axis in da.coords:
                da.coords[axis].attrs["units"] = unit
        return da
