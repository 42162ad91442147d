# One Hetzner Cloud server with its SSH key and a firewall (SSH + ICMP in), labelled for cost tracking.
# Variables and outputs match ../sandbox-server, which stands in for this module in tests and demos.

terraform {
  required_version = ">= 1.4"
  required_providers {
    hcloud = {
      source  = "hetznercloud/hcloud"
      version = "~> 1.48"
    }
  }
}

provider "hcloud" {
  # null lets the provider fall back to HCLOUD_TOKEN from the environment.
  token = var.hcloud_token != "" ? var.hcloud_token : null
}

locals {
  # Hetzner label values: at most 63 characters of [a-zA-Z0-9._-], starting and ending alphanumeric.
  labels = merge(
    { "managed-by" = "portico" },
    { for k, v in var.labels : k => substr(replace(v, "/[^a-zA-Z0-9._-]/", "-"), 0, 63) },
  )
  # Monthly prices (EUR, excl. VAT), kept next to ../sandbox-server's copy; null for unknown types.
  prices = {
    cx22  = 3.79
    cx32  = 6.80
    cx42  = 16.40
    cx52  = 32.40
    cpx11 = 4.35
    cpx21 = 7.55
    cpx31 = 13.60
  }
}

resource "hcloud_ssh_key" "this" {
  name       = "${var.name}-key"
  public_key = var.ssh_public_key
  labels     = local.labels
}

resource "hcloud_firewall" "this" {
  name   = "${var.name}-fw"
  labels = local.labels

  rule {
    description = "SSH"
    direction   = "in"
    protocol    = "tcp"
    port        = "22"
    source_ips  = var.allowed_ssh_cidrs
  }

  rule {
    description = "ICMP"
    direction   = "in"
    protocol    = "icmp"
    source_ips  = ["0.0.0.0/0", "::/0"]
  }
}

resource "hcloud_server" "this" {
  name         = var.name
  server_type  = var.server_type
  image        = var.image
  location     = var.location
  ssh_keys     = [hcloud_ssh_key.this.id]
  firewall_ids = [hcloud_firewall.this.id]
  labels       = local.labels

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }
}
