# One image for every Strata role; the command picks it:
#   strata server (default) | gateway | metanode | datanode | coordinator
# The build installs only wheels prepared outside it, so it needs no network. scripts/docker-build
# prepares them (pip wheel into the build context) and builds on a local Debian base where no registry
# is reachable:  scripts/docker-build            (or by hand, see README "Containers")
ARG BASE=python:3.11-slim

FROM ${BASE} AS wheels
# The virtualenv lives at the same path in both stages, so it can be copied as is.
COPY wheels /wheels
RUN python3 -m venv /opt/strata \
    && /opt/strata/bin/pip install --no-index --no-cache-dir --find-links /wheels --no-compile strata \
    && /opt/strata/bin/pip uninstall -y -q pip setuptools \
    && /opt/strata/bin/python -m compileall -q -j 0 /opt/strata/lib >/dev/null \
    && find /opt/strata -name tests -path '*site-packages/*/tests' -prune -exec rm -rf {} +

FROM ${BASE}
COPY --from=wheels /opt/strata /opt/strata
# A non-root user owns the state directories; named volumes mounted there inherit the ownership.
RUN groupadd --system --gid 1000 strata \
    && useradd --system --uid 1000 --gid strata --home-dir /srv/strata --create-home strata \
    && mkdir -p /data /metadata \
    && chown strata:strata /data /metadata
ENV PATH=/opt/strata/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_MMAP_THRESHOLD_=67108864 \
    MALLOC_TRIM_THRESHOLD_=268435456 \
    S3BACKEND=file \
    S3DATAPATH=/data \
    S3METADATAPATH=/metadata
USER strata
WORKDIR /srv/strata
VOLUME ["/data", "/metadata"]
# 8000: S3; 8002: metrics and probes; 9990: metanode gRPC; 9991: datanode gRPC.
EXPOSE 8000 8002 9990 9991
# The S3 port answers /_/healthcheck in the embedded server and in gateways; the other roles'
# compose services declare their own checks.
HEALTHCHECK --interval=5s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/_/healthcheck' % os.environ.get('STRATA_HEALTHCHECK_PORT', '8000'), timeout=2).status == 200 else 1)"]
CMD ["strata", "server", "--host", "0.0.0.0"]
