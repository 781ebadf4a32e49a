# The replication path of one region: optionally the federation's Kafka cluster (Amazon MSK), and
# the region's bridge. A bridge is one process per region on purpose: a second copy fences the
# first through the shard's transactional id, so the auto-scaling group keeps exactly one and
# replaces it when it fails.

locals {
  prefix     = "${var.name}-${var.region}"
  msk        = var.msk != null
  bridge     = var.bridge
  zone_count = length(distinct([for s in var.subnets : s.availability_zone]))
}

resource "aws_security_group" "bridge" {
  name        = "${local.prefix}-bridge"
  description = "Meridian bridge in ${var.region}: status port from operators"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "bridge_status" {
  for_each          = toset(var.operator_cidr_blocks)
  security_group_id = aws_security_group.bridge.id
  description       = "Operators: /health, /metrics, /v1/bridge/status"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.bridge_port
  to_port           = var.bridge_port
}

resource "aws_vpc_security_group_egress_rule" "bridge" {
  security_group_id = aws_security_group.bridge.id
  description       = "Kafka and the regions' nodes"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_security_group" "kafka" {
  count       = local.msk ? 1 : 0
  name        = "${local.prefix}-kafka"
  description = "Meridian change topics: Kafka from the bridges"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "kafka_from_bridge" {
  count                        = local.msk ? 1 : 0
  security_group_id            = aws_security_group.kafka[0].id
  description                  = "This region's bridge"
  referenced_security_group_id = aws_security_group.bridge.id
  ip_protocol                  = "tcp"
  from_port                    = 9092
  to_port                      = 9094
}

resource "aws_vpc_security_group_ingress_rule" "kafka_from_clients" {
  for_each                     = local.msk ? toset(var.kafka_client_security_group_ids) : toset([])
  security_group_id            = aws_security_group.kafka[0].id
  description                  = "Other Kafka clients"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 9092
  to_port                      = 9094
}

# What the change topics need: no topic made by accident, and a write acknowledged by two copies.
resource "aws_msk_configuration" "changes" {
  count          = local.msk ? 1 : 0
  name           = "${local.prefix}-changes"
  kafka_versions = [var.msk.kafka_version]
  server_properties = join("\n", [
    "auto.create.topics.enable=false",
    "default.replication.factor=3",
    "min.insync.replicas=2",
    "transaction.state.log.replication.factor=3",
    "transaction.state.log.min.isr=2",
    "unclean.leader.election.enable=false",
  ])
}

resource "aws_msk_cluster" "changes" {
  count                  = local.msk ? 1 : 0
  cluster_name           = "${local.prefix}-changes"
  kafka_version          = var.msk.kafka_version
  number_of_broker_nodes = var.msk.brokers

  broker_node_group_info {
    instance_type   = var.msk.broker_instance_type
    client_subnets  = distinct([for s in var.subnets : s.id])
    security_groups = [aws_security_group.kafka[0].id]
    storage_info {
      ebs_storage_info {
        volume_size = var.msk.volume_gb
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.changes[0].arn
    revision = aws_msk_configuration.changes[0].latest_revision
  }

  encryption_info {
    encryption_in_transit {
      # The bridge speaks plaintext Kafka inside the VPC until its TLS settings land; brokers
      # encrypt among themselves and at rest.
      client_broker = "TLS_PLAINTEXT"
      in_cluster    = true
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.msk.brokers % local.zone_count == 0 && var.msk.brokers >= 3
      error_message = "msk.brokers: expected at least 3 and a multiple of the ${local.zone_count} zones (MSK places the same number in each)."
    }
  }
}

module "role" {
  source = "../instance-role"
  count  = local.bridge ? 1 : 0

  name = "${local.prefix}-bridge"
  tags = var.tags
}

resource "aws_launch_template" "bridge" {
  count                  = local.bridge ? 1 : 0
  name_prefix            = "${local.prefix}-bridge-"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.bridge.id]
  user_data = base64encode(templatefile("${path.module}/cloud-init.yaml.tftpl", {
    bridge_yaml = var.bridge_config
    url         = var.distribution.url
    sha256      = var.distribution.sha256
  }))

  iam_instance_profile {
    name = module.role[0].instance_profile_name
  }

  metadata_options {
    http_tokens = "required"
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${local.prefix}-bridge", "meridian:role" = "bridge" })
  }

  lifecycle {
    precondition {
      condition     = var.bridge_config != null && var.ami_id != null && var.distribution != null
      error_message = "A bridge needs bridge_config, ami_id and distribution."
    }
  }
}

resource "aws_autoscaling_group" "bridge" {
  count               = local.bridge ? 1 : 0
  name                = "${local.prefix}-bridge"
  min_size            = 1
  max_size            = 1
  desired_capacity    = 1
  vpc_zone_identifier = distinct([for s in var.subnets : s.id])
  health_check_type   = "EC2"

  launch_template {
    id      = aws_launch_template.bridge[0].id
    version = "$Latest"
  }
}
