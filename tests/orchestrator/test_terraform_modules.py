"""The sandbox module stands in for the hcloud module: flows switch between them unchanged."""

from __future__ import annotations

import re
from pathlib import Path

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
BLOCK = re.compile(r'^(variable|output) "([^"]+)" \{(.*?)^\}', re.MULTILINE | re.DOTALL)


def blocks(module: str, kind: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((TERRAFORM / module).glob("*.tf")):
        for block_kind, name, body in BLOCK.findall(path.read_text(encoding="utf-8")):
            if block_kind == kind:
                found[name] = body
    return found


def test_it_gives_both_server_modules_the_same_outputs() -> None:
    assert set(blocks("sandbox-server", "output")) == set(blocks("hcloud-server", "output"))
    assert {"server_id", "ipv4_address"} <= set(blocks("sandbox-server", "output"))


def test_it_accepts_every_sandbox_variable_in_the_hcloud_module_and_defaults_the_rest() -> None:
    sandbox, hcloud = blocks("sandbox-server", "variable"), blocks("hcloud-server", "variable")
    assert {"name", "server_type", "image", "location"} <= set(sandbox) <= set(hcloud)
    extra = set(hcloud) - set(sandbox)
    assert all("default" in hcloud[name] for name in extra), f"hcloud-only variables need defaults: {extra}"
    for name in sandbox:
        assert ("default" in sandbox[name]) == ("default" in hcloud[name]), f"{name}: required in one only"
