# The hub's image: `docker build -t ipai .` from the repository's root.
# Stage 1 builds a static binary with the Go toolchain of go.mod; stage 2 is a
# distroless base with no shell and no package manager, running as a non-root
# user. The health check is the binary's own `ipai stack probe`.
FROM golang:1.26-bookworm AS build
# The build context has no .git: the version `ipai version` and /healthz report comes from here.
ARG VERSION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/insightpulseai/ipai/internal/buildinfo.Stamp=${VERSION}" -o /out/ipai ./cmd/ipai && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ipai /usr/local/bin/ipai
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV IPAI_DATA_DIR=/data IPAI_LISTEN=:8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --retries=5 CMD ["/usr/local/bin/ipai", "stack", "probe", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/ipai"]
CMD ["serve"]
