# The Sluice image: `sluice` on a slim Debian 12 with only the runtime
# libraries, run as the unprivileged user `sluice`. docker-compose.yml runs
# the demo stack from it; `docker run IMAGE topologies` lists what it bundles.

# Build on Debian 12 with the build packages of `make deps`. Only the
# sources of the binary are copied, so that changing a script, a test or a
# document does not rebuild it.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh build && rm -rf /var/lib/apt/lists/*
# The dashboard's libraries from npm (Debian's Node.js), before its files.
COPY web/package.json web/package-lock.json web/
RUN scripts/install-deps.sh web && rm -rf /var/lib/apt/lists/*
COPY web web
COPY CMakeLists.txt ./
COPY cmake cmake
COPY runtime runtime
COPY state state
COPY operators operators
COPY connectors connectors
COPY topologies topologies
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF \
 && cmake --build /build --target sluice sluice_web

FROM debian:12-slim
# The shared libraries `sluice` links (tests/image_libraries_test.sh checks
# this list against the binary), and kcat for the demo stack's reader and
# output check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 librocksdb7.8 libprotobuf32 libspdlog1.10 libfmt9 libabsl20220623 libjemalloc2 \
      libsimdjson14 kcat \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/sluice sluice \
 && mkdir /checkpoints && chown sluice:sluice /checkpoints
COPY --from=build /build/sluice /usr/local/bin/sluice
COPY --from=build /build/web /usr/local/share/sluice/web
COPY scripts/stack.sh scripts/check-output.sh /usr/local/lib/sluice/
RUN ln -s /usr/local/lib/sluice/stack.sh /usr/local/bin/sluice-stack
USER sluice
WORKDIR /var/lib/sluice
ENTRYPOINT ["sluice"]
CMD ["--help"]
