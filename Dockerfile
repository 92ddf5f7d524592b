# AppVault server image. better-sqlite3 compiles from source, so the build stage has a toolchain.
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
# The admin page (web/, Vite) is built into dist/admin alongside the server.
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data PORT=8080
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The data folder exists and belongs to the user the server runs as before it becomes a volume:
# a new named volume copies this ownership, so restores can write /data/tmp.
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 8080
USER node
# Ready = caught up and both stores answer; node itself checks it, so the image needs no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts a bounded shutdown (SHUTDOWN_TIMEOUT_MS, 25 s by default).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
