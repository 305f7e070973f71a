"""Print, as one JSON line, the installed version of each distribution named (null: not installed).

dist-versions.py DIST...
"""

import importlib.metadata as metadata
import json
import sys

found = {}
for dist in sys.argv[1:]:
    try:
        found[dist] = metadata.version(dist)
    except metadata.PackageNotFoundError:
        found[dist] = None
print(json.dumps(found))
