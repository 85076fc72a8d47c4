# cdrlake: one static-ish binary on a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin cdrlake

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/cdrlake /usr/local/bin/cdrlake
COPY --from=build /src/sql /opt/cdrlake/sql
WORKDIR /opt/cdrlake
EXPOSE 50051
ENTRYPOINT ["cdrlake"]
CMD ["--help"]
