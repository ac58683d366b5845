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
    S3METADATAPATH=/metadata \
    STRATA_METRICS_LISTEN=0.0.0.0:9100
USER strata
WORKDIR /srv/strata
VOLUME ["/data", "/metadata"]
# 8000: S3; 9100: metrics and probes (/metrics, /live, /ready); 9990: metanode gRPC; 9991: datanode gRPC.
EXPOSE 8000 9100 9990 9991
# Whatever the role, healthy = its /ready answers 200 on the probe port (strata/healthcheck.py).
HEALTHCHECK --interval=5s --timeout=10s --start-period=300s --retries=3 \
    CMD ["python3", "-m", "strata.healthcheck"]
CMD ["strata", "server", "--host", "0.0.0.0"]
