"""Checks the Python package ``isf_store`` against a store written by isf.

Run by ``tests/python/store_reader.rs`` as ``python tests/python/test_reader.py STORE`` with the
working tree's ``python/src`` on ``PYTHONPATH``; the Rust test writes STORE and, beside it,
``expected.json`` and ``expected_*.bin`` (trace matrices as raw little-endian float64) with
what the reader must return.
"""

import json
import os
import shutil
import sys
import tempfile

import numpy as np

import isf_store


def check_values(db, exp):
    assert db.keys() == exp["keys"], db.keys()
    assert db.keys_recursive() == exp["keys_recursive"], db.keys_recursive()
    assert db["params"] == exp["params"], db["params"]
    assert db["answer"] == 42
    assert db["sweep"]["w0.5"]["seed"] == 7
    assert db.load("sweep/w0.5/seed") == 7
    meta = db.metadata("voltage_traces")
    assert meta["seed"] == exp["seed"] and meta["plan_hash"] == exp["plan_hash"], meta
    assert meta["sweep_point"] == {"weight": 0.5}, meta
    assert meta["script"] == exp["script"]
    folder = db["morphology"]
    with open(os.path.join(folder, "cell.hoc")) as f:
        assert f.read() == "create soma\n"


def check_traces(db, exp, root):
    vm = np.fromfile(os.path.join(root, "expected_vm.bin"), dtype="<f8")
    vm = vm.reshape(exp["trials"], exp["samples"])
    arr = db.load_array("voltage_traces")
    assert arr.shape == vm.shape and arr.dtype == np.float64, arr.shape
    assert np.array_equal(arr, vm)
    df = db["voltage_traces"]
    assert df.index.name == "sim_trial_index"
    assert list(df.index) == exp["trial_index"]
    assert df.shape == vm.shape
    assert list(df.columns[:3]) == exp["times"][:3], list(df.columns[:3])
    assert np.array_equal(df.to_numpy(), vm)


def check_decimal_traces(db, exp, root):
    vm = np.fromfile(os.path.join(root, "expected_vm_dec.bin"), dtype="<f8")
    arr = db.load_array("traces_4_decimals")
    assert arr.shape == (exp["trials"], exp["samples"])
    # Bit-exact, not merely close.
    assert arr.tobytes() == vm.tobytes()


def check_precision(db, exp, root):
    for key, name, step in [("traces_1uV", "q1", 0.001), ("traces_2_5uV", "q25", 0.0025)]:
        want = np.fromfile(os.path.join(root, f"expected_{name}.bin"), dtype="<f8")
        t = db.load_table(key)
        assert t.attrs["vm.precision"] == step, t.attrs
        arr = t.array()
        assert arr.tobytes() == want.tobytes(), key
        raw = np.fromfile(os.path.join(root, "expected_vm.bin"), dtype="<f8")
        assert np.max(np.abs(arr.ravel() - raw)) <= step / 2 * (1 + 1e-9)
        assert db[key].attrs["vm.precision"] == step
    try:
        db["tampered"]
        raise AssertionError("a value off the declared grid was not detected")
    except isf_store.PrecisionViolation as e:
        assert e.code == "E0625" and e.key == "tampered" and "0.001" in str(e), e
    assert isf_store.quantum(0.0025) == (25, 4) and isf_store.quantum(1 / 3) is None


def check_mixed(db, exp):
    t = db.load_table("synapse_activation")
    assert list(t.columns["synapse_type"]) == exp["synapse_type"]
    assert t.columns["synapse_ID"].dtype == np.int64
    assert list(t.columns["synapse_ID"]) == exp["synapse_ID"]
    assert [list(x) for x in t.columns["times"]] == exp["times_ragged"]
    assert list(t.columns["soma_distance"]) == exp["soma_distance"]
    df = db["synapse_activation"]
    assert list(df.columns) == ["synapse_type", "synapse_ID", "soma_distance", "times"]
    assert len(df) == len(exp["synapse_ID"])


def check_corruption_is_named(db_path):
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "db")
        shutil.copytree(db_path, copy)
        entry = os.path.join(copy, "voltage_traces", "key.isfd")
        chunk = sorted(f for f in os.listdir(os.path.dirname(entry)) if f.startswith("chunk-"))[0]
        path = os.path.join(copy, "voltage_traces", chunk)
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 1
        open(path, "wb").write(bytes(data))
        db = isf_store.Store(copy)
        try:
            db["voltage_traces"]
            raise AssertionError("corruption not detected")
        except isf_store.CorruptKey as e:
            assert e.key == "voltage_traces" and "checksum" in str(e), e
        assert db["answer"] == 42
        problems = db.verify()
        assert [p.key for p in problems] == ["tampered", "voltage_traces"], problems
        # Truncation of an entry is named too.
        p2 = os.path.join(copy, "answer", "key.isfd")
        data = open(p2, "rb").read()
        open(p2, "wb").write(data[:-3])
        assert sorted(p.key for p in db.verify()) == ["answer", "tampered", "voltage_traces"]


def main():
    if len(sys.argv) != 2:
        print("usage: test_reader.py STORE")
        return 2
    root = sys.argv[1]
    with open(os.path.join(os.path.dirname(os.path.abspath(root)), "expected.json")) as f:
        exp = json.load(f)
    db = isf_store.Store(root)
    tests = [
        ("values, sub-stores, folders, metadata", lambda: check_values(db, exp)),
        ("trace table", lambda: check_traces(db, exp, os.path.dirname(os.path.abspath(root)))),
        ("decimal-encoded trace table", lambda: check_decimal_traces(db, exp, os.path.dirname(os.path.abspath(root)))),
        ("mixed and ragged columns", lambda: check_mixed(db, exp)),
        ("declared precision", lambda: check_precision(db, exp, os.path.dirname(os.path.abspath(root)))),
        ("corruption is detected and named", lambda: check_corruption_is_named(root)),
        ("only the tampered key fails verify",
         lambda: None if [p.code for p in db.verify()] == ["E0625"] else (_ for _ in ()).throw(AssertionError(db.verify()))),
    ]
    failed = 0
    for name, fn in tests:
        try:
            fn()
            print(f"ok: {name}")
        except Exception as e:  # report every failure, then fail
            failed += 1
            print(f"FAILED: {name}: {type(e).__name__}: {e}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
