# The powny binary on a small image. Build: docker build -t powny .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/powny ./cmd/powny

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/powny /usr/local/bin/powny
ENV TZ=UTC POWNY_LISTEN=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/powny"]
