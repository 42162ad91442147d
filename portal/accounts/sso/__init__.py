"""Single sign-on over OpenID Connect: allauth's openid_connect provider with a stricter token check.

allauth trusts an ID token fetched straight from the token endpoint without checking its signature and
sends no nonce; Portico verifies both (``id_token``), checks the discovery document's issuer, and maps the
token's group claim to Portico's roles (``portal.accounts.oidc``).
"""
