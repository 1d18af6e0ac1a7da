# Octet: build with the same package lists and scripts as a developer machine, then run octetd in
# a slim image holding only the runtime libraries.
FROM docker.io/library/debian:bookworm AS build
WORKDIR /src
COPY deploy/packages/ deploy/packages/
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN OCTET_BUILD_DIR=/build scripts/build.sh -DOCTET_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release

FROM docker.io/library/debian:bookworm
COPY deploy/packages/runtime.txt /tmp/runtime.txt
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      $(sed -e 's/#.*//' /tmp/runtime.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime.txt \
 && useradd --system --home-dir /var/lib/octet --create-home octet
COPY --from=build /build/server/octetd /build/client/octet /usr/local/bin/
USER octet
VOLUME /var/lib/octet
EXPOSE 8500 9464
HEALTHCHECK --interval=10s --timeout=3s CMD ["octet", "--server", "127.0.0.1:8500", "health"]
ENTRYPOINT ["octetd", "--grpc_address=0.0.0.0:8500", "--metrics_address=0.0.0.0:9464", \
            "--data_dir=/var/lib/octet"]
