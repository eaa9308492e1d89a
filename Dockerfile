# hsm-jwks with a SoftHSM2 token: what Hydra's quickstart-hsm.yml did (token initialised, keys
# generated, service up), but the token is made on first start in the data volume (not at build
# time: no PIN in the image), with random PINs in 0600 files and no PIN on any command line.
# Build: docker build -t hsm-jwks .      Run: see deploy/compose.yml (and deploy/README-notes in the docs).
# Its build steps are deploy/build.sh and its start is deploy/docker-entrypoint.sh; scripts/test-deploy.sh
# runs both on the host (with the COPY --from=build lines below) where no container engine runs.

FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json CMakeLists.txt tsconfig.json tsconfig.build.json binding.d.ts ./
COPY native native
COPY lib lib
COPY scripts scripts
COPY deploy deploy
RUN bash deploy/build.sh /src

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends softhsm2 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/hsm-jwks --shell /usr/sbin/nologin hsm-jwks \
 && mkdir -p /var/lib/hsm-jwks && chown hsm-jwks:hsm-jwks /var/lib/hsm-jwks && chmod 700 /var/lib/hsm-jwks
WORKDIR /opt/hsm-jwks
COPY --from=build /src/package.json package.json
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/build/Release build/Release
COPY --from=build /src/deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 dist/lib/cli/main.js /usr/local/bin/docker-entrypoint.sh \
 && ln -s /opt/hsm-jwks/dist/lib/cli/main.js /usr/local/bin/hsm-jwks
ENV HSM_ENABLED=true \
    HSM_LIBRARY=/usr/lib/softhsm/libsofthsm2.so \
    HSM_TOKEN_LABEL=hydra \
    HSM_JWKS_DATA=/var/lib/hsm-jwks \
    SERVE_PUBLIC_HOST=0.0.0.0 \
    SERVE_PUBLIC_PORT=4444 \
    SERVE_ADMIN_PORT=4445 \
    LOG_FORMAT=json
USER hsm-jwks
VOLUME /var/lib/hsm-jwks
EXPOSE 4444 4445
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD node -e "fetch('http://127.0.0.1:4444/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve"]
