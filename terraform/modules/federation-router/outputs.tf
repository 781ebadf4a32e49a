output "security_group_id" {
  description = "The routers' security group: give it to the region-cluster module's `client_source_security_groups`."
  value       = aws_security_group.router.id
}

output "lb_dns_name" {
  description = "This region's router load balancer."
  value       = aws_lb.routers.dns_name
}

output "url" {
  description = "The URL clients use: the federation's name, answered by the nearest healthy region."
  value       = "http://${var.dns.name}:${var.port}"
}

output "cloud_init" {
  description = "The routers' cloud-init user data (no secrets: TLS material is fetched at boot)."
  value       = local.cloud_init
}

output "latency_record" {
  description = "This region's latency record for the federation's name: name, the region it answers for, and whether it follows the routers' health."
  value = {
    name                   = aws_route53_record.nearest.name
    region                 = aws_route53_record.nearest.latency_routing_policy[0].region
    evaluate_target_health = one(aws_route53_record.nearest.alias[*].evaluate_target_health)
  }
}
