# syntax=docker/dockerfile:1
# jeton's container image, for users: `docker build -t jeton .`, or `docker compose up` with
# compose.yaml. jeton's CI cannot run Docker; it builds the same binary with the same
# flags (`make static`, the only place they are written) and runs it as a non-root user
# (.ci/build-static.sh).

# The admin console's assets, built from source as `make console` builds them.
FROM node:22-bookworm-slim AS console
WORKDIR /src/console
COPY console/package.json console/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY console/ ./
RUN npm run build

FROM golang:1.26 AS build
WORKDIR /src
COPY . .
COPY --from=console /src/console/www/dist console/www/dist
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make static STATIC_OUT=/out/jeton

# distroless/static: CA certificates, tzdata and a nonroot user (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jeton /usr/local/bin/jeton
USER nonroot:nonroot
# 8080: the OAuth endpoints and the admin API; 9090: /metrics and /debug/pprof/ (--ops-addr).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/jeton"]
CMD ["serve"]
