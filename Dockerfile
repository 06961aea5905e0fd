# The cohort-operator image: the Helm chart's default (ghcr.io/cohort-dev/cohort-operator:<appVersion>
# of charts/cohort-operator/Chart.yaml) and manifests/manager/manager.yaml's; and the cohort-ingest
# image every AnalyticsPipeline runs (the operator's --ingest-image default).
#
#   docker build -t ghcr.io/cohort-dev/cohort-operator:0.1.0 .
#   docker build --target ingest -t ghcr.io/cohort-dev/cohort-ingest:0.1.0 .
#
# Two stages: a Debian 12 build stage that installs the C++ dependencies with the project's own
# script and builds as CI does (RelWithDebInfo, debug info then stripped; symbols kept for stack
# traces), and a debian:12-slim runtime stage with only the shared libraries the binary loads,
# running as the non-root UID 65532 (the chart's runAsUser). No container engine runs in this
# repository's CI, so the image is not built there; the ctest dockerfile_test checks that the
# runtime stage installs exactly the packages of the libraries the built binary loads (ldd).

ARG DEBIAN_VERSION=12

FROM debian:${DEBIAN_VERSION} AS build
WORKDIR /src
# The dependency script alone first, so its layer survives source changes.
COPY tools/install-deps.sh tools/install-deps.sh
RUN tools/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build --target cohort-operator cohort-ingest \
 && strip --strip-debug -o /cohort-operator /build/operator/cohort-operator \
 && strip --strip-debug -o /cohort-ingest /build/ingest/server/cohort-ingest

FROM debian:${DEBIAN_VERSION}-slim AS ingest
# The packages of `ldd cohort-ingest` (libc6 and libgcc-s1 are in the base image).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 \
      libfmt9 \
      libre2-9 \
      libroaring0 \
      libsimdjson14 \
      libspdlog1.10 \
      libssl3 \
      libstdc++6 \
      libtcmalloc-minimal4 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /cohort-ingest /usr/local/bin/cohort-ingest
LABEL org.opencontainers.image.title="cohort-ingest" \
      org.opencontainers.image.description="Event ingest server of cohort.dev AnalyticsPipelines (Amplitude HTTP API, Dify/Langfuse tracing, native envelope)" \
      org.opencontainers.image.source="https://github.com/cohort-dev/cohort-operator"
# The pod's securityContext (restricted PSS) runs it as this non-root UID; the data volume is
# writable through fsGroup.
USER 65532:65532
# ingest APIs, query API, metrics and health (docs/ingest-config.md, "The pod contract")
EXPOSE 8080 8081 9090
ENTRYPOINT ["/usr/local/bin/cohort-ingest"]

FROM debian:${DEBIAN_VERSION}-slim AS operator
# The packages of `ldd cohort-operator` (libc6 and libgcc-s1 are in the base image).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 \
      libbrotli1 \
      libcpprest2.10 \
      libfmt9 \
      libre2-9 \
      libspdlog1.10 \
      libssl3 \
      libstdc++6 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /cohort-operator /usr/local/bin/cohort-operator
LABEL org.opencontainers.image.title="cohort-operator" \
      org.opencontainers.image.description="Kubernetes operator for product analytics of LLM apps (cohort.dev)" \
      org.opencontainers.image.source="https://github.com/cohort-dev/cohort-operator"
USER 65532:65532
# metrics (--metrics-bind-address), health probes (--health-probe-bind-address)
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/cohort-operator"]
