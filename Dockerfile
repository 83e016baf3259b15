# syntax=docker/dockerfile:1
# One image for every role: `server` (default), `worker`, `migrate`, `admin`,
# and — in the `agent` target — `agent`. Static binary, non-root by default.
#
#   docker build -t daestro .                    # server / worker / migrate / admin
#   docker build -t daestro-agent --target agent .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/daestro ./cmd/daestro

# The agent talks to the host's Docker socket (root-owned), so it runs as root
# and keeps its state in a volume.
FROM gcr.io/distroless/static-debian12 AS agent
COPY --from=build /out/daestro /usr/local/bin/daestro
VOLUME /var/lib/daestro-agent
ENTRYPOINT ["/usr/local/bin/daestro"]
CMD ["agent"]

FROM gcr.io/distroless/static-debian12:nonroot AS daestro
COPY --from=build /out/daestro /usr/local/bin/daestro
USER nonroot:nonroot
ENV DAESTRO_HTTP_ADDR=:8080 DAESTRO_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/daestro"]
CMD ["server"]
