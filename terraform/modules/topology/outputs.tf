output "clusters" {
  description = "Each shard's cluster in each region, keyed \"<region>/<shard>\": region, shard, role (PRIMARY or STANDBY), members (member, role, host, client_port, peer_port) and client endpoints."
  value       = local.clusters
}

output "nodes" {
  description = "Every node, keyed \"<region>/<shard>/<member>\": region, shard, member, role (VOTER or LISTENER), host and ports."
  value       = local.nodes
}

output "routers" {
  description = "Each region's router: host and port."
  value       = local.routers
}

output "bridges" {
  description = "Each region's bridge: host and port."
  value       = local.bridges
}

output "routing_table" {
  description = "The routing table every router starts with (routing-table.yaml), as YAML."
  value       = yamlencode(local.routing_table)
}

output "node_configs" {
  description = "Each node's node.yaml, keyed as `nodes`."
  value       = local.node_configs
}

output "router_configs" {
  description = "Each region's router.yaml (its table is routing-table.yaml beside it)."
  value       = local.router_configs
}

output "bridge_configs" {
  description = "The bridge.yaml of each region that is the PRIMARY of a shard at the start (none with one region)."
  value       = local.bridge_configs
}
