# Same variables as ../hcloud-server: a flow can switch modules without changing its inputs.

variable "name" {
  description = "Server name (also a DNS label)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.name))
    error_message = "name must be a lowercase DNS label: letters, digits and '-', 2-63 characters."
  }
}

variable "server_type" {
  description = "Hetzner server type, e.g. cx22."
  type        = string
  default     = "cx22"
}

variable "image" {
  description = "OS image, e.g. ubuntu-24.04."
  type        = string
  default     = "ubuntu-24.04"
}

variable "location" {
  description = "Hetzner location, e.g. fsn1."
  type        = string
  default     = "fsn1"
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for root."
  type        = string
}

variable "labels" {
  description = "Labels put on every resource: owner, cost-center, request-id."
  type        = map(string)
  default     = {}
}

variable "hcloud_token" {
  description = "Hetzner Cloud API token (unused by the sandbox; accepted so flows stay identical)."
  type        = string
  default     = ""
  sensitive   = true
}
