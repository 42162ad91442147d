"""A real OpenID Connect provider for the SSO tests: django-oauth-toolkit in its own process.

``harness.OIDCProvider`` starts ``serve`` on a free port with an RSA key made for the run; the portal under
test discovers it, sends the browser to it, exchanges the code with it over HTTP and checks the RS256 ID
token against its JWKS. Test-only endpoints (``views``) create users and make the token endpoint hand out
a deliberately broken ID token.
"""
