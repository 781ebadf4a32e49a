# One shard's cluster in one region: a node per member spread over the zones, an encrypted data
# volume each, security groups that open the peer port to the cluster only and the client port to
# routers, bridges and operators only, an internal network load balancer on the client port, and a
# name per member in the private zone.

locals {
  prefix  = "${var.name}-${var.cluster.region}-s${var.cluster.shard}"
  members = { for i, m in var.cluster.members : m.member => merge(m, { index = i }) }
  # Round-robin over the subnets: with one subnet per zone, consecutive members never share one.
  subnet_of = { for id, m in local.members : id => var.subnets[m.index % length(var.subnets)] }
  cloud_init = {
    for id, m in local.members : id => templatefile("${path.module}/cloud-init.yaml.tftpl", {
      node_yaml     = lookup(var.node_configs, id, "")
      url           = var.distribution.url
      sha256        = var.distribution.sha256
      backup_bucket = var.backup_bucket
      shard         = var.cluster.shard
      tls           = var.tls
    })
  }
  client_port = var.cluster.members[0].client_port
  peer_port   = var.cluster.members[0].peer_port
}

resource "aws_security_group" "node" {
  name        = "${local.prefix}-node"
  description = "Meridian ${local.prefix}: peer port among the cluster, client port from routers, bridges and operators"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "peer" {
  security_group_id            = aws_security_group.node.id
  description                  = "Raft among the cluster's members"
  referenced_security_group_id = aws_security_group.node.id
  ip_protocol                  = "tcp"
  from_port                    = local.peer_port
  to_port                      = local.peer_port
}

resource "aws_vpc_security_group_ingress_rule" "client_from_members" {
  security_group_id            = aws_security_group.node.id
  description                  = "Forwarded requests among the members"
  referenced_security_group_id = aws_security_group.node.id
  ip_protocol                  = "tcp"
  from_port                    = local.client_port
  to_port                      = local.client_port
}

resource "aws_vpc_security_group_ingress_rule" "client_from_groups" {
  for_each                     = var.client_source_security_groups
  security_group_id            = aws_security_group.node.id
  description                  = "Clients: ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = local.client_port
  to_port                      = local.client_port
}

resource "aws_vpc_security_group_ingress_rule" "client_from_operators" {
  for_each          = toset(concat(var.operator_cidr_blocks, var.client_cidr_blocks))
  security_group_id = aws_security_group.node.id
  description       = "Operators (meridianctl) and other regions' routers and bridges"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = local.client_port
  to_port           = local.client_port
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.node.id
  description       = "Peers, Kafka, S3, Secrets Manager"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

# Spread: no two members on the same rack, on top of the zone spread.
resource "aws_placement_group" "cluster" {
  name     = local.prefix
  strategy = "spread"
  tags     = var.tags
}

module "role" {
  source = "../instance-role"

  name        = "${local.prefix}-node"
  policies    = { snapshots = var.backup_writer_policy_json }
  secret_arns = var.tls == null ? [] : [var.tls.ca_secret_arn, var.tls.cert_secret_arn, var.tls.key_secret_arn]
  tags        = var.tags
}

resource "aws_instance" "node" {
  for_each = local.members

  ami                    = var.ami_id
  instance_type          = var.instance_type
  subnet_id              = local.subnet_of[each.key].id
  vpc_security_group_ids = [aws_security_group.node.id]
  iam_instance_profile   = module.role.instance_profile_name
  placement_group        = aws_placement_group.cluster.id

  user_data                   = local.cloud_init[each.key]
  user_data_replace_on_change = false

  metadata_options {
    http_tokens = "required"
  }

  root_block_device {
    encrypted   = true
    volume_type = "gp3"
  }

  tags = merge(var.tags, {
    Name               = "${local.prefix}-${each.key}"
    "meridian:shard"   = tostring(var.cluster.shard)
    "meridian:region"  = var.cluster.region
    "meridian:member"  = each.key
    "meridian:cluster" = local.prefix
    "meridian:role"    = each.value.role
  })

  lifecycle {
    precondition {
      condition     = contains(keys(var.node_configs), each.key)
      error_message = "node_configs has no config for member ${each.key}."
    }
  }
}

resource "aws_ebs_volume" "data" {
  for_each = local.members

  availability_zone = local.subnet_of[each.key].availability_zone
  size              = var.data_volume_gb
  type              = "gp3"
  encrypted         = true
  kms_key_id        = var.data_volume_kms_key_arn
  tags              = merge(var.tags, { Name = "${local.prefix}-${each.key}-data" })
}

resource "aws_volume_attachment" "data" {
  for_each = local.members

  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.data[each.key].id
  instance_id = aws_instance.node[each.key].id
}

resource "aws_route53_record" "member" {
  for_each = local.members

  zone_id = var.private_zone_id
  name    = each.value.host
  type    = "A"
  ttl     = 30
  records = [aws_instance.node[each.key].private_ip]
}

resource "aws_lb" "client" {
  name               = substr("${local.prefix}-client", 0, 32)
  load_balancer_type = "network"
  internal           = true
  subnets            = distinct([for s in var.subnets : s.id])
  tags               = var.tags
}

resource "aws_lb_target_group" "client" {
  name     = substr("${local.prefix}-client", 0, 32)
  port     = local.client_port
  protocol = "TCP"
  vpc_id   = var.vpc_id

  health_check {
    protocol            = "TCP"
    port                = "traffic-port"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

resource "aws_lb_target_group_attachment" "member" {
  for_each = local.members

  target_group_arn = aws_lb_target_group.client.arn
  target_id        = aws_instance.node[each.key].id
  port             = each.value.client_port
}

resource "aws_lb_listener" "client" {
  load_balancer_arn = aws_lb.client.arn
  port              = local.client_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.client.arn
  }
}
