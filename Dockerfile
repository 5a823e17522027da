# Sluice container image: a static binary on a distroless base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sluice ./cmd/sluice

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice /usr/local/bin/sluice
COPY configs/sluice.yaml /etc/sluice/sluice.yaml
VOLUME /var/lib/sluice
EXPOSE 4600
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["serve", "-config", "/etc/sluice/sluice.yaml"]
