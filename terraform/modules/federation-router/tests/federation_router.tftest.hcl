# Offline: the AWS provider is mocked; these assert what the module asks AWS for.

mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  name          = "meridian"
  region        = "us-west-2"
  router_config = "region: us-west-2\n"
  routing_table = "version: 1\n"
  vpc_id        = "vpc-1"
  subnets = [
    { id = "subnet-a", availability_zone = "us-west-2a" },
    { id = "subnet-b", availability_zone = "us-west-2b" },
  ]
  client_cidr_blocks = ["10.0.0.0/8"]
  ami_id             = "ami-1"
  distribution       = { url = "https://example.invalid/meridian-0.1.0.tar.gz", sha256 = "0000000000000000000000000000000000000000000000000000000000000000" }
  dns                = { zone_id = "Z1", name = "meridian.example.com" }
}

run "an_internal_region" {
  # routers behind a load balancer that asks their health
  assert {
    condition     = aws_lb.routers.load_balancer_type == "network"
    error_message = "a network load balancer"
  }
  assert {
    condition     = aws_lb_listener.routers.port == 2390 && aws_lb_listener.routers.protocol == "TCP"
    error_message = "listening on the router port"
  }
  assert {
    condition     = aws_lb_target_group.routers.health_check[0].protocol == "HTTP" && aws_lb_target_group.routers.health_check[0].path == "/health"
    error_message = "each router's /health decides"
  }
  assert {
    condition     = aws_autoscaling_group.routers.min_size == 2 && length(aws_autoscaling_group.routers.vpc_zone_identifier) == 2
    error_message = "two routers at least, over both zones"
  }
  assert {
    condition     = aws_autoscaling_group.routers.health_check_type == "ELB"
    error_message = "an unhealthy router is replaced"
  }
  assert {
    condition     = join(",", keys(aws_vpc_security_group_ingress_rule.clients)) == "10.0.0.0/8" && aws_vpc_security_group_ingress_rule.clients["10.0.0.0/8"].from_port == 2390
    error_message = "the router port from the clients' networks only"
  }

  # a latency record per region that drops an unhealthy region
  assert {
    condition     = aws_route53_record.nearest.set_identifier == "us-west-2" && aws_route53_record.nearest.latency_routing_policy[0].region == "us-west-2"
    error_message = "latency routing to this region"
  }
  assert {
    condition     = aws_route53_record.nearest.name == "meridian.example.com"
    error_message = "under the federation's name"
  }
  assert {
    condition     = alltrue([for a in aws_route53_record.nearest.alias : a.evaluate_target_health])
    error_message = "the record follows the routers' health"
  }
  assert {
    condition     = length(aws_route53_health_check.routers) == 0
    error_message = "an internal region has no outside health check"
  }
  assert {
    condition     = strcontains(output.cloud_init, base64encode("region: us-west-2\n")) && strcontains(output.cloud_init, "meridian-router.service")
    error_message = "cloud-init writes the router's config and starts its unit"
  }
}

run "an_internet_facing_region_is_checked_from_outside" {
  variables {
    internal = false
  }

  assert {
    condition     = aws_route53_health_check.routers[0].type == "HTTP" && aws_route53_health_check.routers[0].resource_path == "/health" && aws_route53_health_check.routers[0].port == 2390
    error_message = "Route 53 checks the routers' /health"
  }
  assert {
    condition     = aws_route53_record.nearest.health_check_id == aws_route53_health_check.routers[0].id
    error_message = "the record answers only while that check passes"
  }
}

run "one_router_is_refused" {
  command = plan

  variables {
    routers = 1
  }

  expect_failures = [var.routers]
}

run "one_zone_is_refused" {
  command = plan

  variables {
    subnets = [{ id = "subnet-a", availability_zone = "us-west-2a" }]
  }

  expect_failures = [var.subnets]
}
