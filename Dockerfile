# Portico's production image: one image, three roles (web, worker, beat) chosen by the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTICO_DATA_DIR=/data \
    PYTHONPATH=/app

WORKDIR /app

# git (and ssh for ssh:// remotes): Git sources of flows are fetched with it (portal/catalog/git_sources.py).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/*

# The project and its dependencies (pip builds the package from these sources).
COPY pyproject.toml ./
COPY portal ./portal
COPY orchestrator ./orchestrator
COPY hcloud_fake ./hcloud_fake
RUN pip install .

# Settings find templates, static files, flows and Terraform modules beside the package (BASE_DIR): run
# from the source tree (PYTHONPATH=/app), not from the copy pip put in site-packages. .dockerignore keeps
# .venv, var/, tests and .git out.
COPY . .

# No collectstatic step: WhiteNoise serves static files straight from the finders (settings).
RUN useradd --system --create-home --home-dir /home/portico portico \
    && mkdir -p /data \
    && chown portico:portico /data

USER portico
VOLUME ["/data"]
EXPOSE 8000

CMD ["python", "-m", "gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", \
     "--workers", "3", "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-", \
     "--logger-class", "portal.access_log.SecretMaskingLogger", "--no-control-socket"]
