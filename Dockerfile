# gitgate and gitgate-forge in one small runtime image.
#   docker build -t gitgate .
#   docker run --rm -p 8080:8080 -v /srv/app:/repos/app gitgate serve --http 0.0.0.0:8080 --repo app=/repos/app ...
# See README "Deploy" and compose.yaml (two replicas on PostgreSQL behind a proxy).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild them: a skeleton with the real
# manifests and empty targets.
COPY Cargo.toml Cargo.lock ./
COPY server/Cargo.toml server/Cargo.toml
COPY forge/Cargo.toml forge/Cargo.toml
COPY harness/Cargo.toml harness/Cargo.toml
COPY tests/Cargo.toml tests/Cargo.toml
RUN for c in server forge harness; do mkdir -p $c/src && echo 'fn main() {}' > $c/src/main.rs && touch $c/src/lib.rs; done \
 && mkdir -p tests/src && touch tests/src/lib.rs \
 && cargo build --release --locked -p gitgate -p gitgate-forge 2>/dev/null || true
COPY . .
# The real sources are newer than the skeleton's build: touch them so cargo rebuilds the crates.
RUN find server forge harness tests -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p gitgate -p gitgate-forge --bins

FROM debian:bookworm-slim
# ca-certificates: HTTPS to GitHub; curl: the health check. No git: gitgate runs none.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/gitgate --create-home gitgate
COPY --from=build /src/target/release/gitgate /usr/local/bin/gitgate
COPY --from=build /src/target/release/gitgate-forge /usr/local/bin/gitgate-forge
USER gitgate
WORKDIR /var/lib/gitgate
ENV GITGATE_DATA_DIR=/var/lib/gitgate
EXPOSE 8080 9464
# Ready: the store answers and the audit spool chains (GET /readyz; 503 otherwise).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["gitgate"]
CMD ["serve", "--http", "0.0.0.0:8080"]
