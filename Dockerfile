# Production image for the candor binary (migrate, serve, worker).
# The nodev build tag leaves out the embedded Temporal dev server.

FROM golang:1.26-bookworm AS build
WORKDIR /src

# Module download first so this layer is cached until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 go build -trimpath -tags nodev -ldflags="-s -w" -o /out/candor ./cmd/candor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/candor /candor
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/candor"]
