# One image for both processes: `node api/main.ts` (the default) or `node worker/main.ts`.
# TypeScript runs through Node's own type stripping, so there is no build stage to ship.

FROM node:24-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; sharp brings its own prebuilt libvips for linux-x64/arm64.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    WORKER_METRICS_PORT=9100 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY api ./api
COPY worker ./worker
COPY imaging ./imaging
COPY infra ./infra
COPY templates ./templates
COPY scripts/setup-aws-resources.ts scripts/redrive.ts scripts/healthcheck.ts ./scripts/
# The image's own unprivileged user.
USER node
EXPOSE 3000 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "scripts/healthcheck.ts", "api"]
CMD ["node", "api/main.ts"]
