# tagdesk's image: the bot (`tagdesk`) and the Messenger Platform emulator
# (`mock-graph`), built in a Rust image and run from a small Debian one as a non-root
# user. SQLite is compiled in and every HTTPS client uses rustls, so the runtime image
# needs only CA certificates.
#
#   docker build -t tagdesk .
#   docker run --rm tagdesk scenario run            # the QA suite, no token needed
#   docker compose up                               # Postgres, mock-graph, two replicas

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p tagdesk -p mock-graph \
 && cp target/release/tagdesk target/release/mock-graph /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/tagdesk tagdesk
COPY --from=build /usr/local/bin/tagdesk /usr/local/bin/mock-graph /usr/local/bin/
# The scenarios and the training curriculum, for `scenario run` and `train` in the image.
COPY --from=build /src/scenarios /var/lib/tagdesk/scenarios
COPY --from=build /src/training /var/lib/tagdesk/training
USER tagdesk
WORKDIR /var/lib/tagdesk
EXPOSE 8080
ENTRYPOINT ["tagdesk"]
CMD ["bot", "--config", "/etc/tagdesk/tagdesk.toml"]
