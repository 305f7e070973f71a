"""Print, as one JSON line, the CUDA version the image carries and where it was read.

    cuda-version.py [RUNTIME_DIST]     (the pinned CUDA runtime wheel of a pip-CUDA image)

The toolkit's version.json (CUDA 11.1 and later) or version.txt (older), else the runtime wheel.
"""

import contextlib
import importlib.metadata as metadata
import json
import re
import sys

found = {}
try:
    with open("/usr/local/cuda/version.json") as f:
        found = {"cuda": json.load(f)["cuda"]["version"], "cuda_from": "/usr/local/cuda/version.json"}
except (OSError, ValueError, KeyError):
    pass
if not found:
    try:
        with open("/usr/local/cuda/version.txt") as f:
            match = re.search(r"CUDA Version (\S+)", f.read())
        if match:
            found = {"cuda": match.group(1), "cuda_from": "/usr/local/cuda/version.txt"}
    except OSError:
        pass
if not found and len(sys.argv) > 1:
    with contextlib.suppress(metadata.PackageNotFoundError):
        found = {"cuda": metadata.version(sys.argv[1]), "cuda_from": "pip " + sys.argv[1]}
print(json.dumps(found))
