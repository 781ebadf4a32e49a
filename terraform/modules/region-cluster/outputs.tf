output "security_group_id" {
  description = "The nodes' security group."
  value       = aws_security_group.node.id
}

output "instance_ids" {
  description = "Each member's instance, by member id."
  value       = { for id, i in aws_instance.node : id => i.id }
}

output "availability_zones" {
  description = "Each member's availability zone, by member id."
  value       = { for id, s in local.subnet_of : id => s.availability_zone }
}

output "client_lb_dns_name" {
  description = "The internal load balancer on the client port (operators' meridianctl --endpoints)."
  value       = aws_lb.client.dns_name
}

output "endpoints" {
  description = "The members' client URLs, as the routing table lists them."
  value       = var.cluster.endpoints
}

output "cloud_init" {
  description = "Each member's cloud-init user data, by member id (no secrets: TLS material is fetched at boot)."
  value       = local.cloud_init
}
