"""flakehunt: reproduce and explain intermittent web bugs, with evidence a ticket can carry."""

import os

# numpy's OpenBLAS starts a thread per core that spins after each call, taking CPU from the
# parse threads on a small machine; flakehunt does no linear algebra.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
