# Build a static binary, then run it as a non-root user in a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/authengine ./cmd/authengine

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/authengine /usr/local/bin/authengine
COPY engine.yaml /etc/authengine/engine.yaml
WORKDIR /var/lib/authengine
USER nonroot:nonroot
EXPOSE 9099
# No shell in this image: the binary asks its own readiness probe.
HEALTHCHECK --interval=30s --timeout=6s CMD ["/usr/local/bin/authengine", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/authengine"]
CMD ["serve", "--config", "/etc/authengine/engine.yaml"]
