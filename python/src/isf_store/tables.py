"""The trial columns of run tables, and gluing a sub-store's tables into one (as isf does).

Mirrors ``src/run/tables.rs`` and ``concat_tables`` of ``src/store/export.rs`` in isf, so
``Store.concat_tables("EXP/trials")`` gives the table ``isf db export STORE EXP/trials``
writes:

* every row of a run table carries its trial's ``point``, ``trial``, ``seed`` (16 hex
  digits) and sweep values as typed columns named by axis path and canonical unit
  (``stimulus.step.amp_nA``; a distance range as ``path.from_um``/``path.to_um``; a list of
  regions as one comma-separated string column), listed in the attributes
  ``trial_columns``/``sweep_columns`` with ``<column>.unit``;
* a table stored without them (older stores, ISF imports, per-trial tables such as
  ``EXP/synapse_activations/pP_tT``, analysis results keyed by ``sim_trial_index``) gets them
  from the key's metadata or from the experiment's trial keys (:func:`complete`), and sample
  columns without times get the trial's time grid (``meta.extra.dt_ms``);
* the tables of a sub-store, each completed, are concatenated row-wise when they have the
  same columns and sample times (:func:`concat_tables`); the attributes are the first
  table's.
"""

import json
import math
import re

import numpy as np

from .store import StoreError, Table

TRIAL_COLUMNS = "trial_columns"
SWEEP_COLUMNS = "sweep_columns"
_LABEL = re.compile(r"^p(\d+)[/_]t(\d+)$")


def parse_label(label):
    """``(point, trial)`` of a label ``pPPPPPP/tTTTTTT`` or a key ``pPPPPPP_tTTTTTT``."""
    m = _LABEL.match(str(label))
    return (int(m.group(1)), int(m.group(2))) if m else None


def _with_unit(path, unit):
    return path if unit in ("", "1") else f"{path}_{unit}"


def _number(v):
    """``(x, unit)`` of a bare number or ``{"value": x, "unit": u}``; ``None`` otherwise."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v), ""
    if isinstance(v, dict) and isinstance(v.get("value"), (int, float)) and not isinstance(v["value"], bool):
        u = v.get("unit")
        return float(v["value"]), u if isinstance(u, str) else ""
    return None


def sweep_cells(point):
    """The typed cells of a sweep point as ``meta.sweep_point`` stores it, in path order:
    ``[(column, axis, unit, value)]``. ``column`` is the exported name (``path_unit``),
    ``axis`` the same without the unit (the level name of :class:`isf_store.Run`'s index)."""
    out = []
    for path in sorted(point or {}):
        v = point[path]
        n = _number(v)
        if n is not None:
            out.append((_with_unit(path, n[1]), path, n[1], n[0]))
            continue
        if isinstance(v, list):
            if len(v) == 2 and _number(v[0]) is not None and _number(v[1]) is not None:
                for end, (x, u) in (("from", _number(v[0])), ("to", _number(v[1]))):
                    axis = f"{path}.{end}"
                    out.append((_with_unit(axis, u), axis, u, x))
                continue
            if all(isinstance(s, str) for s in v):
                out.append((path, path, "", ",".join(v)))
                continue
        text = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        out.append((path, path, "", text))
    return out


def seed_hex(seed):
    """A trial seed as isf's tables write it: 16 hex digits ('' when unknown)."""
    return "" if seed is None else f"{int(seed):016x}"


class _Trial:
    def __init__(self, point, trial, meta):
        self.label = f"p{point:06d}/t{trial:06d}"
        self.point, self.trial = point, trial
        self.seed = seed_hex((meta or {}).get("seed"))
        self.sweep = sweep_cells((meta or {}).get("sweep_point"))


def _id_columns(rows, point_name):
    cols = [(point_name, "i64", np.array([r.point for r in rows], dtype=np.int64)),
            ("trial", "i64", np.array([r.trial for r in rows], dtype=np.int64)),
            ("seed", "str", np.array([r.seed for r in rows], dtype=object))]
    attrs, sweep_names = {}, []
    for name, _axis, unit, value in (rows[0].sweep if rows else []):
        def get(r):
            for c in r.sweep:
                if c[0] == name:
                    return c[3]
            return None
        if isinstance(value, float):
            vals = [get(r) for r in rows]
            col = np.array([x if isinstance(x, float) else np.nan for x in vals], dtype=np.float64)
            cols.append((name, "f64", col))
        else:
            vals = [get(r) for r in rows]
            col = np.array(["" if x is None else (_float_text(x) if isinstance(x, float) else x)
                            for x in vals], dtype=object)
            cols.append((name, "str", col))
        if unit:
            attrs[f"{name}.unit"] = unit
        sweep_names.append(name)
    attrs[TRIAL_COLUMNS] = [c[0] for c in cols]
    attrs[SWEEP_COLUMNS] = sweep_names
    return cols, attrs


def _float_text(x):
    """Rust's ``f64`` Display for the rare number in a string sweep column."""
    return str(int(x)) if x == int(x) and abs(x) < 1e16 else repr(x)


def _with_ids(t, rows):
    point_name = "sweep_point" if "point" in t.columns else "point"
    cols, attrs = _id_columns(rows, point_name)
    at = 1 if t.schema else 0
    schema = list(t.schema[:at]) + [{"name": n, "dtype": d} for n, d, _ in cols] + list(t.schema[at:])
    columns = dict(t.columns)
    for n, _, c in cols:
        columns[n] = c
    out_attrs = dict(t.attrs)
    out_attrs.update(attrs)
    return Table({s["name"]: columns[s["name"]] for s in schema}, out_attrs, schema)


def _grid(dt):
    """isf's time grid (``run::TimeGrid``): times ``k·m / 10^d`` for ``dt = m / 10^d``."""
    for d in range(10):
        scale = 10.0 ** d
        s = dt * scale
        m = math.copysign(math.floor(abs(s) + 0.5), s)
        if 0 < m < 9.0e15 and m / scale == dt:
            return m, scale
    return dt, 1.0


def _experiment_trials(store, key):
    """The ``trials`` sub-store of the experiment a key belongs to (nearest ancestor)."""
    parts = key.split("/")
    for n in range(len(parts) - 1, -1, -1):
        try:
            sub = store if n == 0 else store["/".join(parts[:n])]
            if not hasattr(sub, "kind"):
                return None
            if "trials" in sub.keys() and sub.kind("trials") == "store":
                return sub["trials"]
        except StoreError:
            return None
    return None


def _insert_front(t, name, dtype, col):
    schema = [{"name": name, "dtype": dtype}] + list(t.schema)
    columns = {name: col}
    columns.update(t.columns)
    return Table(columns, dict(t.attrs), schema)


def _drop(t, names):
    schema = [s for s in t.schema if s["name"] not in names]
    return Table({s["name"]: t.columns[s["name"]] for s in schema}, dict(t.attrs), schema)


def complete(store, key, t, meta):
    """Table ``t`` of ``key`` with its trial columns, as isf completes it for export
    (``run::tables::complete``; see the module documentation)."""
    rows = len(t)
    own = parse_label(key.rsplit("/", 1)[-1])
    t = Table(dict(t.columns), dict(t.attrs), list(t.schema))
    dt = ((meta or {}).get("extra") or {}).get("dt_ms")
    try:
        dt = float(dt) if dt is not None else None
    except ValueError:
        dt = None
    if dt is not None:
        m, scale = _grid(dt)
        for s in t.schema:
            if s["dtype"] == "f64_array" and f"{s['name']}.labels" not in t.attrs:
                t.attrs[f"{s['name']}.labels"] = [k * m / scale for k in range(s["width"])]
    has_ids = "trial" in t.columns and "seed" in t.columns
    if has_ids and TRIAL_COLUMNS in t.attrs:
        if "sim_trial_index" not in t.columns and own is not None:
            label = f"p{own[0]:06d}/t{own[1]:06d}"
            t = _insert_front(t, "sim_trial_index", "str", np.array([label] * rows, dtype=object))
        return t
    if "sim_trial_index" in t.columns and t.columns["sim_trial_index"].dtype == object:
        trials = _experiment_trials(store, key)
        if trials is None:
            return t
        cache = {}
        for label in t.columns["sim_trial_index"]:
            if label in cache:
                continue
            pt = parse_label(label)
            if pt is None:
                r = _Trial(-1, -1, {})
                r.label, r.sweep = label, []
                cache[label] = r
                continue
            try:
                m = trials.metadata(f"p{pt[0]:06d}_t{pt[1]:06d}")
            except StoreError:
                m = {}
            cache[label] = _Trial(pt[0], pt[1], m)
        ids = [cache[label] for label in t.columns["sim_trial_index"]]
        if has_ids:
            t = _drop(t, {"point", "trial", "seed"})
        return _with_ids(t, ids)
    if own is None:
        return t
    if (meta or {}).get("seed") is None and (meta or {}).get("sweep_point") is None and not has_ids:
        return t
    r = _Trial(own[0], own[1], meta)
    if has_ids:
        t = _drop(t, {"point", "trial", "seed"})
    t = _insert_front(t, "sim_trial_index", "str", np.array([r.label] * rows, dtype=object))
    return _with_ids(t, [r] * rows)


def _schema_of(t):
    return [(s["name"], s["dtype"], s.get("width")) for s in t.schema]


def concat_tables(tables, key=""):
    """Tables with the same columns and sample times as one (isf's ``concat_tables``); the
    attributes are the first table's. Raises :class:`StoreError` E0622 otherwise."""
    if not tables:
        return Table({}, {}, [])
    first = tables[0]
    names = lambda t: ", ".join(s["name"] for s in t.schema)  # noqa: E731
    for t in tables[1:]:
        if _schema_of(t) != _schema_of(first):
            raise StoreError("E0622", key, f"the tables have different columns: [{names(first)}] "
                             f"and [{names(t)}]; use --column or --layout tidy")
        for s in t.schema:
            if s["dtype"] == "f64_array":
                a, b = t.attrs.get(f"{s['name']}.labels"), first.attrs.get(f"{s['name']}.labels")
                if (a is None) != (b is None) or (a is not None and list(a) != list(b)):
                    raise StoreError("E0622", key, f"column `{s['name']}` has different sample "
                                     "times in different tables; use --layout tidy")
    columns = {}
    for s in first.schema:
        parts = [t.columns[s["name"]] for t in tables]
        if s["dtype"] == "f64_list" or s["dtype"] == "str":
            out = np.empty(sum(len(p) for p in parts), dtype=object)
            i = 0
            for p in parts:
                out[i:i + len(p)] = p
                i += len(p)
            columns[s["name"]] = out
        else:
            columns[s["name"]] = np.concatenate(parts)
    return Table(columns, dict(first.attrs), list(first.schema))
