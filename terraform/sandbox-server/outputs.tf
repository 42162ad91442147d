output "server_id" {
  value = terraform_data.server.output.id
}

output "ipv4_address" {
  value = terraform_data.server.output.ipv4_address
}

output "ipv6_address" {
  value = terraform_data.server.output.ipv6_address
}

output "status" {
  value = terraform_data.server.output.status
}

output "monthly_price_eur" {
  value = lookup(local.prices, var.server_type, null)
}
