# syntax=docker/dockerfile:1
# casper-event-store image: one binary, one subcommand per service
# (produce, audit-consume, store-consume, api; see docs/kubernetes.md).
#
#   docker build -t casper-event-store:0.1.0 .
#
# Stage 1 builds with the README's commands (make setup && make build) on
# Debian 12; stage 2 is Debian 12 slim with only the shared libraries the
# binary links against (found with ldd, mapped to their Debian packages),
# running as an unprivileged user.
ARG DEBIAN_IMAGE=debian:12.11-slim
# Go toolchain image for `make setup` (it builds FerretDB, used by the local
# stack; the toolchain is expected at /usr/local/go as on developer machines)
ARG GO_IMAGE=golang:1.24.4-bookworm

FROM ${GO_IMAGE} AS go

FROM ${DEBIAN_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends ca-certificates make \
    && rm -rf /var/lib/apt/lists/*
COPY --from=go /usr/local/go /usr/local/go
WORKDIR /src
COPY . .
# The README's build: make setup (tool chain and libraries), make build.
RUN make setup && make build \
    && test -x build/casper-event-store
# Runtime packages: the Debian packages that own the shared libraries the
# binary needs (the C library family is in the runtime base image already).
RUN ldd build/casper-event-store | awk '/=> \// { print $3 }' \
      | xargs -r -n1 readlink -f \
      | while read -r lib; do dpkg -S "$lib" 2>/dev/null || dpkg -S "${lib#/usr}"; done \
      | cut -d: -f1 | sort -u \
      | grep -Ev '^(libc6|libgcc-s1)$' > /runtime-packages.txt \
    && cat /runtime-packages.txt \
    && install -D -m 0755 build/casper-event-store /out/casper-event-store \
    && . ./versions.env \
    && cp -r "/opt/casper-event-store/tools/swagger-ui-dist-${SWAGGER_UI_DIST_VERSION}" /out/swagger-ui

FROM ${DEBIAN_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
# hadolint ignore=DL3008
RUN apt-get update -q \
    && xargs -a /tmp/runtime-packages.txt apt-get install -y -q --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
    && groupadd --system --gid 10001 ces \
    && useradd --system --uid 10001 --gid ces --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ces
COPY --from=build /out/casper-event-store /usr/local/bin/casper-event-store
# the static Swagger UI that `api` serves at /swagger-ui/
COPY --from=build /out/swagger-ui /usr/share/casper-event-store/swagger-ui
ENV CES_SWAGGER_UI_DIR=/usr/share/casper-event-store/swagger-ui
# every shared library resolves
RUN ! ldd /usr/local/bin/casper-event-store | grep -q 'not found' \
    && /usr/local/bin/casper-event-store --version
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/casper-event-store"]
CMD ["--help"]
