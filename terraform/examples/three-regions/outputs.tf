output "url" {
  description = "What clients call: the nearest healthy region's routers."
  value       = module.routers_us_east_1.url
}

output "kafka_bootstrap_servers" {
  description = "The MSK cluster the bridges ship through."
  value       = module.replication_us_east_1.bootstrap_servers
}

output "cluster_load_balancers" {
  description = "Each shard's cluster in each region: its internal load balancer on the client port (meridianctl --endpoints)."
  value = merge(
    { for s, c in module.clusters_us_east_1 : "us-east-1/${s}" => c.client_lb_dns_name },
    { for s, c in module.clusters_us_west_2 : "us-west-2/${s}" => c.client_lb_dns_name },
    { for s, c in module.clusters_eu_west_1 : "eu-west-1/${s}" => c.client_lb_dns_name },
  )
}
