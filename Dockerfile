# One image for every role; the command picks it (strata server | gateway | metanode | datanode).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    MALLOC_MMAP_THRESHOLD_=67108864 \
    MALLOC_TRIM_THRESHOLD_=268435456
WORKDIR /srv/strata
COPY pyproject.toml README.md ./
COPY protos protos
COPY gateway gateway
COPY metanode metanode
COPY datanode datanode
COPY coordinator coordinator
COPY strata strata
RUN pip install --no-cache-dir .
EXPOSE 8000 9990 9991
CMD ["strata", "server", "--host", "0.0.0.0"]
