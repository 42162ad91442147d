# A stand-in for ../hcloud-server built only from terraform_data (built into Terraform): it needs no
# provider download, runs offline and gives deterministic fake ids and addresses derived from the name.

terraform {
  required_version = ">= 1.4"
}

locals {
  digest = sha256(var.name)
  # Hex slices of the digest → numbers: the same name always yields the same server.
  server_id = parseint(substr(local.digest, 0, 7), 16)
  ipv4_address = format(
    "198.%d.%d.%d",
    18 + parseint(substr(local.digest, 7, 1), 16) % 2, # 198.18.0.0/15: reserved for benchmarks
    parseint(substr(local.digest, 8, 2), 16),
    1 + parseint(substr(local.digest, 10, 2), 16) % 254,
  )
  ipv6_address = format("2001:db8:%s:%s::1", substr(local.digest, 12, 4), substr(local.digest, 16, 4))
  # Monthly prices (EUR, excl. VAT) of common types, as in ../hcloud-server.
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

resource "terraform_data" "server" {
  input = {
    id           = local.server_id
    name         = var.name
    server_type  = var.server_type
    image        = var.image
    location     = var.location
    ipv4_address = local.ipv4_address
    ipv6_address = local.ipv6_address
    ssh_key      = sha256(var.ssh_public_key)
    labels       = var.labels
    status       = "running"
  }
  # Like a real server: a new type/image/location means a new machine.
  triggers_replace = [var.server_type, var.image, var.location]
}
