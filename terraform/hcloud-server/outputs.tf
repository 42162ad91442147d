output "server_id" {
  value = tonumber(hcloud_server.this.id)
}

output "ipv4_address" {
  value = hcloud_server.this.ipv4_address
}

output "ipv6_address" {
  value = hcloud_server.this.ipv6_address
}

output "status" {
  value = hcloud_server.this.status
}

output "monthly_price_eur" {
  value = lookup(local.prices, var.server_type, null)
}
