output "bootstrap_servers" {
  description = "The Kafka bootstrap string the bridges use: the MSK cluster made here, or the one given."
  value       = local.msk ? aws_msk_cluster.changes[0].bootstrap_brokers : var.bootstrap_servers
}

output "bridge_security_group_id" {
  description = "The bridge's security group: give it to the region-cluster module's `client_source_security_groups` and to the Kafka region's `kafka_client_security_group_ids`."
  value       = aws_security_group.bridge.id
}

output "kafka_security_group_id" {
  description = "The brokers' security group, when the MSK cluster is made here."
  value       = local.msk ? aws_security_group.kafka[0].id : null
}
