# One image for both daemons (metallb-controller, metallb-speaker) and the metallb CLI.
# ExaBGP comes in as a Python dependency of the package. Build with any engine:
#   docker build -t ghcr.io/metallb-py/metallb:0.1.0 .
# Offline (no base-image registry, no PyPI inside the build), scripts/build-image.sh
# builds a Debian base with mmdebstrap and the wheels on the host, then:
#   podman build --build-arg PYTHON_IMAGE=localhost/metallb-base:bookworm \
#     --build-arg WHEELHOUSE=/wheelhouse --volume HOST_WHEELS:/wheelhouse:ro ...
# tests/system/test_image_install.py runs the same two scripts without any engine.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Empty: pip fetches dependencies as usual. A directory: build only from the wheels in it.
ARG WHEELHOUSE=
WORKDIR /src
COPY pyproject.toml README.md ./
COPY metallb ./metallb
COPY controller ./controller
COPY speaker ./speaker
COPY deploy/image/build-wheels.sh /usr/local/bin/build-wheels.sh
RUN WHEELHOUSE="${WHEELHOUSE}" sh /usr/local/bin/build-wheels.sh /src /wheels

FROM ${PYTHON_IMAGE}
# The daemons run as this user; the manifests set the same uid (runAsUser: 10001).
RUN groupadd --gid 10001 metallb \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin metallb
# The wheels are bind-mounted, never copied: no build output stays in a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,source=deploy/image/install.sh,target=/tmp/install.sh \
    sh /tmp/install.sh /wheels /opt/metallb
ENV PATH=/opt/metallb/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 7472
CMD ["metallb", "--help"]
