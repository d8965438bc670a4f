# OctoStore: a static binary on distroless, running as non-root.
#   docker build -t octostore --build-arg VERSION=v0.1.0 .
#   docker run -p 3000:3000 -v octostore-data:/data octostore
# The first start prints the admin token to the container's log.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/octostore/octostore/internal/version.Version=${VERSION}" \
      -o /out/octostore ./cmd/octostore \
 && mkdir -p -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/octostore /octostore
# The volume's mount point must belong to the non-root user, or a fresh
# named volume would be root-owned and unwritable; and it is 0700 (BuildKit
# gives a directory COPY creates its source's mode): the data dir holds
# token hashes and webhook secrets. A fresh named volume copies both. The
# server also tightens its data dir at start, whatever made it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV OCTOSTORE_DATA_DIR=/data \
    OCTOSTORE_LISTEN=0.0.0.0:3000
VOLUME /data
EXPOSE 3000 7001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD ["/octostore", "health"]
ENTRYPOINT ["/octostore"]
CMD ["serve"]
