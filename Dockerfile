# mcp-docker-server in a container: stdio by default, Streamable HTTP when configured.
#
#   docker build -t mcp-docker-server .
#   docker run -i --rm --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /var/run/docker.sock:/var/run/docker.sock mcp-docker-server
#
# Mounting the Docker socket gives the container root on the host: whoever drives this server
# can start a privileged container that mounts /. The server's policy refuses such requests, but
# the socket itself has no limits. Give it a socket only on a host you would give the model root on.
#
# Build arguments:
#   BASE    any Debian-like image with python3 (3.11 or newer) and its venv module
#   WHEELS  a folder of the build context holding this project's wheel and every dependency's
#           (`pip wheel --wheel-dir wheels .`): the install then uses only them, with no network,
#           so `docker build --network none` works. Empty (the default): pip fetches from PyPI.
#           The wheels must suit BASE's Python (cp311 wheels for a Python 3.11 base).
# Works with the classic builder as well as BuildKit (no RUN --mount, no heredocs).

ARG BASE=python:3.12-slim

FROM ${BASE} AS build
ARG WHEELS=
COPY . /src
# One venv in /opt, installed in this stage only: the final image gets neither the source, the
# wheels nor pip.
RUN set -eu; \
    python3 -m venv /opt/mcp-docker-server; \
    pip=/opt/mcp-docker-server/bin/pip; \
    if [ -n "$WHEELS" ]; then \
      "$pip" install --no-cache-dir --disable-pip-version-check --no-index \
        --find-links "/src/$WHEELS" mcp-docker-server; \
    else \
      "$pip" install --no-cache-dir --disable-pip-version-check /src; \
    fi; \
    "$pip" uninstall --yes --quiet pip setuptools; \
    /opt/mcp-docker-server/bin/python -c 'import mcp_docker_server.server'

FROM ${BASE}
# A fixed uid, so that operators can grant it the Docker socket's group (--group-add) and files.
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin mcp
COPY --from=build /opt/mcp-docker-server /opt/mcp-docker-server
ENV PATH=/opt/mcp-docker-server/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 10001:10001
WORKDIR /home/mcp
# Streamable HTTP listens here when MCP_DOCKER_TRANSPORT=http (with MCP_DOCKER_HTTP_HOST=0.0.0.0).
EXPOSE 8000
LABEL org.opencontainers.image.title="mcp-docker-server" \
      org.opencontainers.image.description="Model Context Protocol server for Docker (stdio by default)"
ENTRYPOINT ["mcp-docker-server"]
