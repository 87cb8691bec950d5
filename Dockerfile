# healthdlp services image: processor, sensors and console (docker-compose.yml).
# Stage 1 compiles the network sensor's hot path with mypyc (setup.py, HEALTHDLP_NATIVE=1) into a wheel.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml setup.py README.md* ./
COPY model ./model
COPY sensors ./sensors
COPY detectors ./detectors
COPY store ./store
COPY stream ./stream
COPY dashboards ./dashboards
COPY healthdlp ./healthdlp
RUN pip install "setuptools>=77" "mypy>=1.10" wheel \
    && HEALTHDLP_NATIVE=1 pip wheel --no-deps --no-build-isolation -w /wheels .

FROM python:3.11-slim
# libpcap + tcpdump: scapy compiles BPF filters with tcpdump and captures through libpcap.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap0.8 tcpdump \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels

# Services run unprivileged; only the network sensor runs as root (see docker-compose.yml).
RUN useradd --system --uid 10001 --home-dir /var/lib/healthdlp healthdlp \
    && mkdir -p /var/lib/healthdlp /etc/healthdlp \
    && chown healthdlp /var/lib/healthdlp
USER healthdlp
WORKDIR /var/lib/healthdlp
EXPOSE 8080 6066
ENTRYPOINT []
CMD ["healthdlp", "--help"]
