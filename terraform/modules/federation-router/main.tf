# A region's routers: an auto-scaling group spread over the zones behind a network load balancer
# whose health check asks each router's /health, and a latency record for the federation's name,
# so a client reaches its nearest region and a region whose routers are all unhealthy drops out of
# the answers (cross-region fallback at the DNS level).

locals {
  prefix = "${var.name}-${var.region}-router"
  cloud_init = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    router_yaml = var.router_config
    table_yaml  = var.routing_table
    url         = var.distribution.url
    sha256      = var.distribution.sha256
    tls         = var.tls
  })
}

resource "aws_security_group" "router" {
  name        = local.prefix
  description = "Meridian routers in ${var.region}: the router port from the federation's clients"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each          = toset(var.client_cidr_blocks)
  security_group_id = aws_security_group.router.id
  description       = "Clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.port
  to_port           = var.port
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.router.id
  description       = "Nodes of every region, Secrets Manager"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

module "role" {
  source = "../instance-role"

  name        = local.prefix
  secret_arns = var.tls == null ? [] : [var.tls.ca_secret_arn, var.tls.cert_secret_arn, var.tls.key_secret_arn]
  tags        = var.tags
}

resource "aws_launch_template" "router" {
  name_prefix            = "${local.prefix}-"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.router.id]
  user_data              = base64encode(local.cloud_init)

  iam_instance_profile {
    name = module.role.instance_profile_name
  }

  metadata_options {
    http_tokens = "required"
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = local.prefix, "meridian:role" = "router" })
  }
}

resource "aws_lb" "routers" {
  name               = substr(local.prefix, 0, 32)
  load_balancer_type = "network"
  internal           = var.internal
  subnets            = distinct([for s in var.subnets : s.id])
  tags               = var.tags
}

resource "aws_lb_target_group" "routers" {
  name     = substr(local.prefix, 0, 32)
  port     = var.port
  protocol = "TCP"
  vpc_id   = var.vpc_id

  # A router answers /health 200 only while it serves its table.
  health_check {
    protocol            = "HTTP"
    path                = "/health"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

resource "aws_lb_listener" "routers" {
  load_balancer_arn = aws_lb.routers.arn
  port              = var.port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.routers.arn
  }
}

resource "aws_autoscaling_group" "routers" {
  name                = local.prefix
  min_size            = var.routers
  max_size            = var.routers * 2
  desired_capacity    = var.routers
  vpc_zone_identifier = distinct([for s in var.subnets : s.id])
  target_group_arns   = [aws_lb_target_group.routers.arn]
  health_check_type   = "ELB"

  launch_template {
    id      = aws_launch_template.router.id
    version = "$Latest"
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }
}

# Latency-based: each region's record answers the clients nearest to it; an alias that evaluates
# the load balancer's target health stops being answered while no router of the region is healthy.
resource "aws_route53_record" "nearest" {
  zone_id        = var.dns.zone_id
  name           = var.dns.name
  type           = "A"
  set_identifier = var.region

  latency_routing_policy {
    region = var.region
  }

  alias {
    name                   = aws_lb.routers.dns_name
    zone_id                = aws_lb.routers.zone_id
    evaluate_target_health = true
  }

  health_check_id = var.internal ? null : aws_route53_health_check.routers[0].id
}

# An internet-facing region is also checked from outside, on the routers' /health.
resource "aws_route53_health_check" "routers" {
  count             = var.internal ? 0 : 1
  fqdn              = aws_lb.routers.dns_name
  port              = var.port
  type              = "HTTP"
  resource_path     = "/health"
  failure_threshold = 3
  request_interval  = 10
  tags              = merge(var.tags, { Name = local.prefix })
}
