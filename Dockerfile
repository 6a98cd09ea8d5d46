# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY handlers ./handlers
COPY jobs ./jobs
RUN npm run build

# Runtime stage: production dependencies only, non-root.
FROM node:20.20.2-bookworm-slim AS runtime
# glibc gives every thread its own malloc arena; two are plenty for one event loop and its helpers, and lower the
# resident size under load (172 MB against 208 MB in one pair of bench runs). `npm run bench` runs the bot with
# this environment.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    PORT=3000 \
    CONFIG_FILE=/config/checkstack-chatops.yml
# pg_dump for backups (issue #17), from the PostgreSQL project's Debian repository (apt.postgresql.org), whose key
# signs that repository only (signed-by). The rule: the client's major version must be at least the server's (a
# pg_dump older than the server refuses with "server version mismatch"); 17 dumps every server Checkstack's compose
# runs (Postgres 16) and older ones. Debian's own bookworm package is 15: too old for a Postgres 16 server.
# /usr/bin/pg_dump is Debian's pg_wrapper, which runs the newest installed client: the check below proves it is 17.
# /backups is where `backup.dir` points by default: a named volume mounted there starts owned by the bot's user.
ARG PG_CLIENT_MAJOR=17
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    . /etc/os-release; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}"; \
    apt-get purge -y --auto-remove curl; \
    rm -rf /var/lib/apt/lists/*; \
    pg_dump --version | grep -q " ${PG_CLIENT_MAJOR}\."; \
    pg_restore --version | grep -q " ${PG_CLIENT_MAJOR}\."; \
    install -d -o node -g node /backups
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/checkstack-chatops.js"]
CMD ["start"]
