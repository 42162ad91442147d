"""The claims the test provider puts in its ID tokens and user info: a Keycloak-like ``groups`` list."""

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class GroupsClaimValidator(OAuth2Validator):
    # Like Keycloak's "groups" client scope: the claim is only released when that scope is asked for.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups", "email_verified": "email"}

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        return {
            "preferred_username": user.username,
            "name": user.get_full_name() or user.username,
            "email": user.email,
            "email_verified": True,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }
