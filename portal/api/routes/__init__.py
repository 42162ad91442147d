"""One router per resource of the API; ``portal.api.api`` mounts them."""
