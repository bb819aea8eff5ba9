"""Read isf results stores from Python: pure Python on numpy, pandas, msgpack and blosc.

``Store`` opens a store (lazily: each call reads only the files it needs), ``Store.run``
gives the results of one experiment of ``isf run`` as pandas objects indexed by sweep values
and trial, with an optional xarray view. The f–I curve of ``examples/quickstart.isf``::

    from isf_store import Store
    run = Store("examples/results/quickstart.isfdb").run("quickstart")
    rate = run.spike_counts().groupby(level="stimulus.step.amp").mean() / 0.150  # per s of step
    rate.plot(marker="o", xlabel="step amplitude (nA)", ylabel="rate (Hz)")

``read_parquet`` reads the Parquet files of ``isf db export`` back into the same objects
(``isf_store.exports``); ``Store.export_table`` glues a sub-store's per-trial tables into the
one table the export writes (``isf_store.tables``).

The format is described in ``docs/store-format.md`` of the isf repository.
"""

from .exports import read_parquet
from .runs import Run
from .store import (
    CorruptKey,
    PrecisionViolation,
    Store,
    StoreError,
    Table,
    check_precision,
    quantum,
    read_payload,
)

__all__ = [
    "CorruptKey",
    "PrecisionViolation",
    "Run",
    "Store",
    "StoreError",
    "Table",
    "check_precision",
    "read_parquet",
    "quantum",
    "read_payload",
]
__version__ = "0.1.0"
