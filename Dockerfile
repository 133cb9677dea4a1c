# Build a static binary, then run it as a non-root user in a minimal image.
# Without a registry, `make image` builds the same shape FROM scratch
# (deploy/image/Dockerfile).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/authengine ./cmd/authengine \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/authengine /usr/local/bin/authengine
COPY engine.yaml /etc/authengine/engine.yaml
# The data volume, owned by the engine's user (distroless nonroot, 65532):
# the embedded store and, in development mode, the generated keys.
COPY --from=build --chown=65532:65532 /out/data/ /var/lib/authengine/
WORKDIR /var/lib/authengine
VOLUME /var/lib/authengine
USER nonroot:nonroot
# Listen on every interface of the container, so a port mapping reaches it.
ENV AUTHENGINE_API_HOST=0.0.0.0
EXPOSE 9099
# No shell in this image: the binary asks its own readiness probe.
HEALTHCHECK --interval=30s --timeout=6s CMD ["/usr/local/bin/authengine", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/authengine"]
CMD ["serve", "--config", "/etc/authengine/engine.yaml"]
