#!/usr/bin/python3
"""Writes chunked_csr.h5ad: a CSR X whose data (float32) and indices (int32) are chunked, unfiltered datasets with
small chunks of different lengths (7 and 5 elements), for ChunkSlicesTest, which reads every element range
straight from the chunks. Values follow formulas the test recomputes:
    data[i] = (i % 97) * 0.25 + 0.5,   indices[i] = (i * 7919) % 1000
(the rows are not a valid count matrix; only X's datasets are read). X_f64 holds the same data as float64,
which direct chunk reads leave to jhdf.

Run with Debian's Python (python3-h5py, python3-numpy), from anywhere:
    /usr/bin/python3 src/test/resources/atlas/chunked/make_chunked.py
"""
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
N = 103  # 14 full chunks of 7 and a partial one; 20 of 5 and a partial one

i = np.arange(N)
data = ((i % 97) * 0.25 + 0.5).astype(np.float32)
indices = ((i * 7919) % 1000).astype(np.int32)
with h5py.File(os.path.join(HERE, "chunked_csr.h5ad"), "w") as f:
    x = f.create_group("X")
    x.attrs["encoding-type"] = "csr_matrix"
    x.attrs["encoding-version"] = "0.1.0"
    x.attrs["shape"] = np.array([1, 1000])
    x.create_dataset("data", data=data, chunks=(7,), maxshape=(None,))
    x.create_dataset("indices", data=indices, chunks=(5,), maxshape=(None,))
    x.create_dataset("indptr", data=np.array([0, N], dtype=np.int32))
    f.create_dataset("X_f64", data=data.astype(np.float64), chunks=(7,), maxshape=(None,))
