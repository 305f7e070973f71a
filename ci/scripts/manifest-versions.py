"""Print, as one JSON line, the Python version and the installed versions of TensorFlow and numpy.

    manifest-versions.py TENSORFLOW_DIST     (the distribution the image installs, e.g. tensorflow-cpu)

Read from the distributions' metadata, as `pip list` would, so importing TensorFlow is not needed.
"""

import contextlib
import importlib.metadata as metadata
import json
import platform
import sys

found = {"python": platform.python_version()}
for key, dist in (("tensorflow", sys.argv[1]), ("numpy", "numpy")):
    with contextlib.suppress(metadata.PackageNotFoundError):
        found[key] = metadata.version(dist)
print(json.dumps(found))
