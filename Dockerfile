# syntax=docker/dockerfile:1
#
# One image recipe for every service:
#
#   docker build --build-arg SERVICE=profit -t fund-profit .
#
# SERVICE is one of auth, portfolio, profit, withdrawal, stats. The result is
# a static binary at /app on distroless/static, running as the non-root user.
# The binary is also its own health check (`/app -healthcheck`) and migration
# step (`/app -migrate-only`), so the image needs no shell.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<auth|portfolio|profit|withdrawal|stats>" >&2; exit 1; }
WORKDIR /src

# Only the shared libs and this one service. The repository's go.work also
# lists modules the image does not need (the dev stack), so the build uses a
# workspace of just these two; libs still resolves from source. go.work.sum
# (if any) only adds checksums.
COPY go.work go.work.su[m] ./
COPY libs/ ./libs/
COPY services/${SERVICE}/ ./services/${SERVICE}/
RUN rm go.work && go work init ./libs ./services/${SERVICE}

# The module and build caches persist between builds (BuildKit cache mounts),
# so only changed packages are fetched and compiled again.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/app ./services/${SERVICE}/cmd/${SERVICE}

FROM gcr.io/distroless/static-debian12:nonroot
ARG SERVICE
LABEL org.opencontainers.image.title="fund-${SERVICE}" \
      org.opencontainers.image.description="Fund platform ${SERVICE} service"
COPY --from=build /out/app /app
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/app"]
