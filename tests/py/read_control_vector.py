#!/usr/bin/env python3
"""Reads a control vector with gguf-py (llama.cpp's GGUF reader) and prints what llama.cpp's
loader would see, as JSON: the architecture, and per tensor its name, type, shape and values."""

import json
import sys

import numpy as np
from gguf import GGUFReader


def main():
    reader = GGUFReader(sys.argv[1])
    arch = reader.fields["general.architecture"]
    out = {"architecture": bytes(arch.parts[arch.data[0]]).decode(), "tensors": []}
    for t in reader.tensors:
        out["tensors"].append({
            "name": t.name,
            "type": t.tensor_type.name,
            "shape": [int(d) for d in t.shape],
            "values": [float(x) for x in np.asarray(t.data, dtype=np.float32).reshape(-1)],
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
