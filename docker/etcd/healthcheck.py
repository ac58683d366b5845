"""Exit 0 when the local etcd member reports itself healthy (it has a leader and can serve)."""

import json
import sys
import urllib.request

try:
    with urllib.request.urlopen("http://127.0.0.1:2379/health", timeout=2) as response:
        sys.exit(0 if json.load(response).get("health") == "true" else 1)
except (OSError, ValueError):
    sys.exit(1)
