"""The store itself: framing, chunks, tables, keys (format: ``docs/store-format.md``).

Nothing is read until asked: opening a :class:`Store` reads its marker file only, and each
call reads the files of the keys it needs. Usage::

    from isf_store import Store
    db = Store("results/")
    db.keys()                            # ['synapse_activation', 'voltage_traces', ...]
    db.metadata("voltage_traces")        # {'created': '...', 'seed': 123, ...}
    vt = db["voltage_traces"]            # DataFrame: index sim_trial_index, columns = times
    arr = db.load_array("voltage_traces")  # numpy (trials, samples) float64
    db["sweep"]["w0.5"]["seed"]          # nested sub-stores
    db.run("quickstart")                 # run results by sweep value and trial (runs.py)

Every file's CRC-32 is checked before it is decompressed; a damaged file raises
``CorruptKey`` naming the key, and other keys still load.
"""

import json
import os
import struct
import zlib

import blosc
import msgpack
import numpy as np

MAGIC = b"ISFSTORE"
VERSION = 2  # newest format version read; version 1 stores and files are read too
VERSIONS = (1, 2)
HEADER = struct.Struct("<8sHBB4xQQ")  # magic, version, file kind, reserved, body len, raw len
ENTRY_FILE = "key.isfd"
MARKER = "isf-store.json"
KIND_ENTRY = 1
KIND_CHUNK = 2


class StoreError(Exception):
    """A store problem; ``code`` is the isf diagnostic code, ``key`` the key concerned."""

    def __init__(self, code, key, message):
        self.code, self.key, self.message = code, key, message
        where = f"key '{key}': " if key else ""
        super().__init__(f"error[{code}]: {where}{message}")


class CorruptKey(StoreError):
    """A file of the key is truncated or damaged (E0601)."""

    def __init__(self, key, message):
        super().__init__("E0601", key, message)


class PrecisionViolation(StoreError):
    """A column stored with a declared precision holds a value off its grid (E0625): the
    writer promised values within half a step of the simulated ones, on multiples of the
    step, and the stored data does not keep that promise."""

    def __init__(self, key, message):
        super().__init__("E0625", key, message)


MAX_DECIMALS = 12
LIMIT = 2.0 ** 53


def quantum(step):
    """A declared precision ``step`` as ``(m, d)`` with ``step == m / 10**d`` (the fewest
    decimals ``d``), or ``None`` when it is not a positive decimal step. Mirrors
    ``store::table::Quantum::of`` in isf."""
    if not (isinstance(step, (int, float)) and np.isfinite(step) and step > 0):
        return None
    for d in range(MAX_DECIMALS + 1):
        s = step * float(10 ** d)
        m = float(np.round(s))
        if 1.0 <= m < 2.0 ** 31 and abs(s - m) <= 1e-6:
            return int(m), d
    return None


def check_precision(values, step, key, column):
    """Raise :class:`PrecisionViolation` unless every finite value (with ``|v|·10^d < 2^53``)
    is a multiple of ``step`` written with the step's decimals, exactly as isf stores it."""
    q = quantum(step)
    if q is None:
        raise CorruptKey(key, f"column {column!r}: precision {step!r} is not a positive decimal step")
    m, d = q
    v = np.asarray(values, dtype=np.float64).ravel()
    p = float(10 ** d)
    with np.errstate(invalid="ignore", over="ignore"):
        s = v * p
        ok = ~np.isfinite(s) | (np.abs(s) >= LIMIT)
        n = np.round(s)
        on_grid = (n / p == v) & (np.fmod(n, m) == 0)
    bad = np.flatnonzero(~(ok | on_grid))
    if bad.size:
        i = int(bad[0])
        raise PrecisionViolation(
            key, f"column {column!r}: value {v[i]!r} (entry {i}) is not a multiple of its declared "
                 f"precision {step!r}; {bad.size} value(s) off the grid")


def read_payload(path, expect_kind, key=""):
    """Check and decode one payload file; return the msgpack document."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER.size + 4:
        raise CorruptKey(key, f"{path}: file is {len(data)} bytes, shorter than a header")
    magic, version, kind, _flags, body_len, raw_len = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CorruptKey(key, f"{path}: bad magic bytes")
    if HEADER.size + body_len + 4 != len(data):
        raise CorruptKey(key, f"{path}: truncated or extended")
    (stored,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != stored:
        raise CorruptKey(key, f"{path}: checksum mismatch")
    if version not in VERSIONS:
        raise StoreError("E0608", key, f"{path}: format version {version}, reader knows 1 to {VERSION}")
    if kind != expect_kind:
        raise CorruptKey(key, f"{path}: file kind {kind}, expected {expect_kind}")
    try:
        raw = blosc.decompress(data[HEADER.size:-4])
    except Exception as e:  # blosc raises plain errors on bad frames
        raise CorruptKey(key, f"{path}: blosc: {e}") from e
    if len(raw) != raw_len:
        raise CorruptKey(key, f"{path}: decoded length differs from the header")
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def _decode_chunk(doc, columns, key):
    rows = doc["rows"]
    out = {}
    for spec, col in zip(columns, doc["columns"]):
        name, dtype = spec["name"], spec["dtype"]
        if dtype == "i64":
            arr = np.frombuffer(col["data"], dtype="<i8")
        elif dtype in ("f64", "f64_array"):
            width = spec["width"] if dtype == "f64_array" else rows
            arr = _floats(col, width, key)
            if dtype == "f64_array":
                arr = arr.reshape(rows, width)
        elif dtype == "str":
            arr = np.array(col["data"], dtype=object)
        elif dtype == "f64_list":
            offsets = np.frombuffer(col["offsets"], dtype="<u8").astype(np.int64)
            values = np.frombuffer(col["data"], dtype="<f8")
            arr = np.empty(rows, dtype=object)
            for i in range(rows):
                arr[i] = values[offsets[i]:offsets[i + 1]]
        else:
            raise CorruptKey(key, f"unknown column dtype {dtype!r}")
        if len(arr) != rows:
            raise CorruptKey(key, f"column {name!r} has {len(arr)} rows, chunk says {rows}")
        out[name] = arr
    return out


def _floats(col, width, key):
    """A float column: raw doubles, or the decimal encoding (integer deltas along rows of
    ``width`` values, scaled by 10**decimals; ``qdec`` multiplies the integers by ``step``
    first; see docs/store-format.md §4)."""
    enc = col.get("enc", "f64")
    if enc == "f64":
        return np.frombuffer(col["data"], dtype="<f8")
    if enc in ("dec", "qdec"):
        deltas = np.frombuffer(col["data"], dtype="<i8")
        if deltas.size == 0:
            return np.empty(0)
        k = np.cumsum(deltas.reshape(-1, width), axis=1)
        if enc == "qdec":  # quantised to a declared precision of step/10**decimals
            k = k * int(col["step"])
        # Exact: |k| < 2**53 and 10**d is an exact double, so the division rounds once,
        # exactly as parsing the decimal text did.
        return (k.astype(np.float64) / float(10 ** col["decimals"])).ravel()
    raise CorruptKey(key, f"unknown float encoding {enc!r}")


class Table:
    """A stored table: ``columns`` maps names to numpy arrays (``f64_array`` columns are 2-D,
    ``f64_list`` columns are object arrays of 1-D arrays); ``attrs`` holds the attributes."""

    def __init__(self, columns, attrs, schema):
        self.columns, self.attrs, self.schema = columns, attrs, schema

    def __len__(self):
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def array(self, column=None):
        """The numeric 2-D (``f64_array``) or 1-D column as a numpy array."""
        if column is None:
            arrays = [s["name"] for s in self.schema if s["dtype"] == "f64_array"]
            if len(arrays) != 1:
                raise ValueError(f"choose a column among {[s['name'] for s in self.schema]}")
            column = arrays[0]
        return self.columns[column]

    def to_dataframe(self):
        """A pandas DataFrame in ISF's layout: an ``f64_array`` column expands into one column
        per entry, named by its ``<column>.labels`` attribute (e.g. sample times) when present;
        a ``sim_trial_index`` column becomes the index, together with the trial columns of
        run results (attribute ``trial_columns``: ``point``, ``trial``, ``seed`` and sweep
        values such as ``stimulus.step.amp_nA``), so rows are addressable by sweep value
        (``df.xs(0.4, level="stimulus.step.amp_nA")``) and the columns stay ISF's."""
        import pandas as pd

        parts = []
        for spec in self.schema:
            name, col = spec["name"], self.columns[spec["name"]]
            if spec["dtype"] == "f64_array":
                labels = self.attrs.get(f"{name}.labels")
                cols = list(labels) if labels is not None else [f"{name}[{i}]" for i in range(col.shape[1])]
                parts.append(pd.DataFrame(col, columns=cols))
            else:
                parts.append(pd.DataFrame({name: col}))
        df = pd.concat(parts, axis=1) if parts else pd.DataFrame()
        if "sim_trial_index" in df.columns:
            extra = [c for c in self.attrs.get("trial_columns", []) if c in df.columns]
            df = df.set_index(["sim_trial_index"] + extra) if extra else df.set_index("sim_trial_index")
        df.attrs.update({k: v for k, v in self.attrs.items() if not k.endswith(".labels")})
        return df


class Store:
    """A store directory (or a sub-store inside one)."""

    def __init__(self, path, _prefix=""):
        self.path = os.fspath(path)
        self.prefix = _prefix
        marker = os.path.join(self.path, MARKER)
        if os.path.isfile(marker):
            with open(marker) as f:
                info = json.load(f)
            if info.get("format") != "isf-store":
                raise StoreError("E0602", None, f"{self.path} is not an isf store")
            if info.get("version") not in VERSIONS:
                raise StoreError("E0608", None, f"store format version {info.get('version')}")
        elif not (os.path.isfile(os.path.join(self.path, ENTRY_FILE)) and
                  self._entry_at(self.path, "")["kind"] == "store"):
            raise StoreError("E0602", None, f"{self.path} is not an isf store")

    def _full(self, key):
        return f"{self.prefix}/{key}" if self.prefix else key

    @staticmethod
    def _entry_at(directory, key):
        path = os.path.join(directory, ENTRY_FILE)
        if not os.path.isfile(path):
            raise StoreError("E0604", key, "no such key")
        return read_payload(path, KIND_ENTRY, key)

    def _locate(self, key):
        parts = key.split("/")
        directory = self.path
        for i, p in enumerate(parts[:-1]):
            directory = os.path.join(directory, p)
            sub = "/".join(parts[: i + 1])
            if self._entry_at(directory, self._full(sub))["kind"] != "store":
                raise StoreError("E0605", self._full(sub), "not a sub-store")
        return os.path.join(directory, parts[-1])

    def _entry(self, key):
        directory = self._locate(key)
        return directory, self._entry_at(directory, self._full(key))

    def keys(self):
        """Complete keys directly in this store, sorted."""
        out = []
        for name in os.listdir(self.path):
            if name.startswith(".") or name in (MARKER, ENTRY_FILE):
                continue
            # A symbolic link is never a key (format §1): not followed out of the store.
            if os.path.islink(os.path.join(self.path, name)):
                continue
            if os.path.isfile(os.path.join(self.path, name, ENTRY_FILE)):
                out.append(name)
        return sorted(out)

    def keys_recursive(self):
        """Every non-store key at any depth as '/'-separated paths."""
        out = []
        for k in self.keys():
            if self.kind(k) == "store":
                out += [f"{k}/{s}" for s in self[k].keys_recursive()]
            else:
                out.append(k)
        return out

    def __contains__(self, key):
        try:
            self._entry(key)
            return True
        except StoreError:
            return False

    def kind(self, key):
        """'value', 'table', 'store' or 'folder'."""
        return self._entry(key)[1]["kind"]

    def metadata(self, key):
        """The key's provenance as a dict."""
        return self._entry(key)[1].get("meta", {})

    def load_table_attrs(self, key):
        """A table's attributes (from its entry; no chunk is read)."""
        directory, entry = self._entry(key)
        if entry["kind"] != "table":
            raise StoreError("E0605", self._full(key), f"is a {entry['kind']}, not a table")
        return entry["table"].get("attrs", {})

    def load_table(self, key):
        """A table key as a :class:`Table`."""
        directory, entry = self._entry(key)
        if entry["kind"] != "table":
            raise StoreError("E0605", self._full(key), f"is a {entry['kind']}, not a table")
        manifest = entry["table"]
        schema = manifest["columns"]
        parts = []
        for chunk in manifest["chunks"]:
            if "inline" in chunk:  # format version 2: the chunk document is in the entry
                doc, name = chunk["inline"], ENTRY_FILE
            else:
                name = chunk["file"]
                doc = read_payload(os.path.join(directory, name), KIND_CHUNK, self._full(key))
            if doc["rows"] != chunk["rows"]:
                raise CorruptKey(self._full(key), f"{name}: row count differs from the manifest")
            parts.append(_decode_chunk(doc, schema, self._full(key)))
        attrs = manifest.get("attrs", {})
        for spec in schema:
            step = attrs.get(f"{spec['name']}.precision")
            if step is not None:
                for p in parts:
                    check_precision(p[spec["name"]], step, self._full(key), spec["name"])
        columns = {}
        for spec in schema:
            name = spec["name"]
            arrays = [p[name] for p in parts]
            if arrays:
                columns[name] = np.concatenate(arrays) if spec["dtype"] != "f64_list" else _concat_objects(arrays)
            elif spec["dtype"] == "f64_array":
                columns[name] = np.empty((0, spec["width"]))
            else:
                columns[name] = np.empty(0, dtype=object if spec["dtype"] in ("str", "f64_list") else float)
        return Table(columns, attrs, schema)

    def load_array(self, key, column=None):
        """A table's numeric column (default: its only 2-D column) as a numpy array, or a
        numeric list value as an array."""
        if self.kind(key) == "value":
            return np.asarray(self.load(key), dtype=float)
        return self.load_table(key).array(column)

    def load_dataframe(self, key):
        """A table key as a pandas DataFrame (see :meth:`Table.to_dataframe`); a sub-store of
        tables (``EXP/trials``, ``EXP/synapse_activations``) as the one table
        :meth:`export_table` glues from them."""
        if self.kind(key) == "store":
            return self.export_table(key).to_dataframe()
        return self.load_table(key).to_dataframe()

    def export_table(self, key):
        """The :class:`Table` that ``isf db export`` writes for ``key`` (wide layout): a table
        completed with its trial columns (``point``, ``trial``, ``seed``, the sweep values
        with units; added from metadata where it was stored without them, e.g. per-trial
        synapse activations), or a sub-store's tables, each completed, glued into one in key
        order (same columns and sample times required, else E0622). See
        :mod:`isf_store.tables`."""
        from .tables import complete, concat_tables

        if self.kind(key) != "store":
            return complete(self, key, self.load_table(key), self.metadata(key))
        sub = self[key]
        tables = [complete(self, f"{key}/{k}", sub.load_table(k), sub.metadata(k))
                  for k in sub.keys() if sub.kind(k) == "table"]
        if not tables:
            raise StoreError("E0605", self._full(key), "is a sub-store without tables; nothing to export")
        return concat_tables(tables, self._full(key))

    def load(self, key):
        """Load any key: a value as Python objects, a table as a DataFrame, a sub-store as a
        :class:`Store`, a managed folder as its path."""
        directory, entry = self._entry(key)
        kind = entry["kind"]
        if kind == "value":
            return entry["value"]
        if kind == "table":
            return self.load_dataframe(key)
        if kind == "store":
            return Store(directory, self._full(key))
        if kind == "folder":
            return os.path.join(directory, "files")
        raise CorruptKey(self._full(key), f"unknown kind {kind!r}")

    __getitem__ = load

    def run(self, experiment):
        """The results of one experiment of ``isf run`` (a :class:`isf_store.Run`): tables
        indexed by sweep values and trial. Nothing is read until a table is asked for."""
        from .runs import Run

        return Run(self, experiment)

    def runs(self):
        """Names of the experiments of ``isf run`` in this store (sub-stores with a plan)."""
        return [k for k in self.keys() if self.kind(k) == "store" and "plan" in self[k].keys()]

    def verify(self):
        """Check every file of the store; return a list of errors (empty when intact)."""
        problems = []
        for k in self.keys():
            try:
                kind = self.kind(k)
                if kind == "table":
                    self.load_table(k)
                elif kind == "store":
                    problems += self[k].verify()
            except StoreError as e:
                problems.append(e)
        return problems


def _concat_objects(arrays):
    out = np.empty(sum(len(a) for a in arrays), dtype=object)
    i = 0
    for a in arrays:
        out[i:i + len(a)] = a
        i += len(a)
    return out
