# wahost in a container: the core and the first-party plugins of this checkout, run as an
# unprivileged user. Build from the repository's root:  docker build -t wahost .
# The configuration is mounted at /etc/wahost/wahost.toml (see compose.yaml and
# docs/operations.md); the container listens on port 8080.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY wahost ./wahost
COPY plugins ./plugins
# One pip command for the core and the plugins, so that their "wahost" dependency is this
# checkout's core rather than a release from PyPI.
RUN python -m venv /opt/wahost \
    && /opt/wahost/bin/pip install --no-cache-dir . \
        ./plugins/wahost-redis \
        ./plugins/wahost-postgres \
        ./plugins/wahost-state-machine \
        ./plugins/wahost-media \
        ./plugins/wahost-flows \
        ./plugins/wahost-profile \
        ./plugins/wahost-status \
        ./plugins/wahost-templates \
        ./plugins/wahost-console

FROM python:3.12-slim
# var/ is where [queue] path = "var/wahost.db" lands: a volume mounted there starts owned by
# wahost, as the image has it.
RUN useradd --system --uid 10001 --user-group --home-dir /srv/wahost --create-home wahost \
    && install -d -o wahost -g wahost -m 0700 /srv/wahost/var
COPY --from=build /opt/wahost /opt/wahost
ENV PATH=/opt/wahost/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /srv/wahost
USER wahost
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["wahost", "serve", "--config", "/etc/wahost/wahost.toml", "--host", "0.0.0.0", "--port", "8080"]
