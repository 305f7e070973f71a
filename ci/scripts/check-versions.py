"""Print, as one JSON line, the Python version and the versions TensorFlow and numpy report.

Run by the image's own Python (any version the table builds, 3.7 and up). An import that fails is
reported on stderr and left out of the JSON, so the check can say which one is missing.
"""

import json
import platform
import sys

found = {"python": platform.python_version()}
for module in ("tensorflow", "numpy"):
    try:
        found[module] = __import__(module).__version__
    except Exception as exc:  # any import failure is what the check reports
        print(f"import {module} failed: {exc}", file=sys.stderr)
print(json.dumps(found))
