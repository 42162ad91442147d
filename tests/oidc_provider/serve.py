"""Run the test provider: ``python -m tests.oidc_provider.serve`` (the harness sets the environment).

Binds 127.0.0.1 on a free port first, so the issuer URL (which names the port) is known before Django
loads (requests wait in the listen queue until then); prints ``PORT <n>`` once it accepts connections.
One process, many threads: the test's browser and the portal's token exchange reach it at the same time.
Django is imported inside ``main``: its settings read the issuer this function has just chosen.
"""

from __future__ import annotations

import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


def main() -> None:
    server = _Server(("127.0.0.1", 0), _QuietHandler)  # bound and listening: the port is ours
    port = server.server_port
    os.environ["OIDC_TEST_ISSUER"] = f"http://127.0.0.1:{port}/o"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.oidc_provider.settings")

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0)
    get_application_model().objects.update_or_create(
        client_id=os.environ["OIDC_TEST_CLIENT_ID"],
        defaults={
            "name": "Portico under test",
            "client_secret": os.environ["OIDC_TEST_CLIENT_SECRET"],
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": os.environ["OIDC_TEST_REDIRECT_URIS"],
            "algorithm": "RS256",
            "skip_authorization": True,
        },
    )
    server.set_app(get_wsgi_application())
    print(f"PORT {port}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
