"""The container's health check: ``python3 -m strata.healthcheck`` exits 0 when this role is ready.

Every role serves ``/ready`` on its probe port (``STRATA_METRICS_LISTEN``): a gateway or embedded
server that reaches its metadata and a data quorum, a metanode that leads or follows in sync, an
open datanode store, a running coordinator. Without a probe port, the S3 port's ``/_/healthcheck``
is asked (``STRATA_HEALTHCHECK_PORT``, default 8000), which only the S3 roles serve.

It imports the standard library only: Docker runs it every few seconds in every container.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def probe_url(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    listen = environ.get("STRATA_METRICS_LISTEN", "").strip()
    if listen:
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/ready"
    return f"http://127.0.0.1:{environ.get('STRATA_HEALTHCHECK_PORT', '8000')}/_/healthcheck"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    url = args[0] if args else probe_url()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (a local URL)
            print(response.read(500).decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as error:  # 503: not ready, and the body says why
        print(f"{url}: {error.code} {error.read(500).decode(errors='replace')}")
    except (OSError, ValueError) as error:
        print(f"{url}: {error}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
