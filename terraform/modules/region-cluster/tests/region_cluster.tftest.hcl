# Offline: the AWS provider is mocked; these assert what the module asks AWS for.

mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  name = "meridian"
  cluster = {
    region = "us-east-1"
    shard  = 0
    role   = "PRIMARY"
    members = [
      { member = "n1", role = "VOTER", host = "n1.s0.us-east-1.meridian.internal", client_port = 2379, peer_port = 2380 },
      { member = "n2", role = "VOTER", host = "n2.s0.us-east-1.meridian.internal", client_port = 2379, peer_port = 2380 },
      { member = "n3", role = "VOTER", host = "n3.s0.us-east-1.meridian.internal", client_port = 2379, peer_port = 2380 },
    ]
    endpoints = [
      "http://n1.s0.us-east-1.meridian.internal:2379",
      "http://n2.s0.us-east-1.meridian.internal:2379",
      "http://n3.s0.us-east-1.meridian.internal:2379",
    ]
  }
  node_configs = { n1 = "member: n1\n", n2 = "member: n2\n", n3 = "member: n3\n" }
  vpc_id       = "vpc-1"
  subnets = [
    { id = "subnet-a", availability_zone = "us-east-1a" },
    { id = "subnet-b", availability_zone = "us-east-1b" },
    { id = "subnet-c", availability_zone = "us-east-1c" },
  ]
  ami_id                        = "ami-1"
  backup_writer_policy_json     = "{}"
  backup_bucket                 = "meridian-snapshots-us-east-1"
  distribution                  = { url = "https://example.invalid/meridian-0.1.0.tar.gz", sha256 = "0000000000000000000000000000000000000000000000000000000000000000" }
  private_zone_id               = "Z1"
  client_source_security_groups = { router = "sg-router", bridge = "sg-bridge" }
  operator_cidr_blocks          = ["10.9.0.0/16"]
}

run "a_cluster_of_three_members" {
  # members spread over three zones with encrypted volumes
  assert {
    condition     = length(distinct(values(output.availability_zones))) == 3
    error_message = "three members, three zones"
  }
  assert {
    condition     = length(distinct([for i in aws_instance.node : i.subnet_id])) == 3
    error_message = "each member in its own zone's subnet"
  }
  assert {
    condition     = alltrue([for k, v in aws_ebs_volume.data : v.encrypted && v.availability_zone == output.availability_zones[k]])
    error_message = "each data volume is encrypted and in its member's zone"
  }
  assert {
    condition     = aws_placement_group.cluster.strategy == "spread"
    error_message = "members on distinct racks"
  }
  assert {
    condition     = alltrue([for i in aws_instance.node : i.metadata_options[0].http_tokens == "required"])
    error_message = "IMDSv2 only"
  }

  # the peer port is open to the cluster and the client port to routers bridges and operators
  assert {
    condition     = aws_vpc_security_group_ingress_rule.peer.from_port == 2380 && aws_vpc_security_group_ingress_rule.peer.referenced_security_group_id == aws_security_group.node.id
    error_message = "the peer port only from the cluster's own group"
  }
  assert {
    condition     = join(",", sort([for r in aws_vpc_security_group_ingress_rule.client_from_groups : r.referenced_security_group_id])) == "sg-bridge,sg-router"
    error_message = "the client port from the routers' and bridges' groups"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.client_from_groups : r.from_port == 2379 && r.to_port == 2379])
    error_message = "those rules open the client port only"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.client_from_operators["10.9.0.0/16"].from_port == 2379
    error_message = "operators reach the client port"
  }

  # a tcp load balancer on the client port with a health check
  assert {
    condition     = aws_lb.client.load_balancer_type == "network" && aws_lb.client.internal
    error_message = "an internal network load balancer"
  }
  assert {
    condition     = aws_lb_listener.client.port == 2379 && aws_lb_listener.client.protocol == "TCP"
    error_message = "listening on the client port over TCP"
  }
  assert {
    condition     = aws_lb_target_group.client.health_check[0].protocol == "TCP"
    error_message = "a TCP health check"
  }
  assert {
    condition     = length(aws_lb_target_group_attachment.member) == 3
    error_message = "every member behind it"
  }

  # cloud init installs the archive and writes the config
  assert {
    condition     = strcontains(output.cloud_init["n2"], base64encode("member: n2\n")) && strcontains(output.cloud_init["n2"], "sha256sum -c")
    error_message = "each member gets its own node.yaml and a checked archive"
  }
  assert {
    condition     = !strcontains(output.cloud_init["n2"], "secretsmanager")
    error_message = "no TLS fetch without TLS material"
  }

  # a name per member in the private zone
  assert {
    condition     = join(",", sort([for r in aws_route53_record.member : r.name])) == "n1.s0.us-east-1.meridian.internal,n2.s0.us-east-1.meridian.internal,n3.s0.us-east-1.meridian.internal"
    error_message = "the topology's names"
  }
}

run "tls_material_comes_from_secrets_manager" {
  variables {
    tls = {
      ca_secret_arn   = "arn:aws:secretsmanager:us-east-1:111122223333:secret:ca"
      cert_secret_arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:cert"
      key_secret_arn  = "arn:aws:secretsmanager:us-east-1:111122223333:secret:key"
    }
  }

  assert {
    condition     = join(",", module.role.policy_names) == "snapshots,tls-material"
    error_message = "the instance role may read the TLS secrets"
  }
  assert {
    condition     = alltrue([for c in values(output.cloud_init) : strcontains(c, "secretsmanager get-secret-value --secret-id") && strcontains(c, "secret:key")])
    error_message = "cloud-init fetches them at boot"
  }
}

run "two_zones_are_refused" {
  command = plan

  variables {
    subnets = [
      { id = "subnet-a", availability_zone = "us-east-1a" },
      { id = "subnet-b", availability_zone = "us-east-1b" },
    ]
  }

  expect_failures = [var.subnets]
}

run "an_even_voter_count_is_refused" {
  command = plan

  variables {
    cluster = {
      region = "us-east-1"
      shard  = 0
      role   = "PRIMARY"
      members = [
        { member = "n1", role = "VOTER", host = "n1", client_port = 2379, peer_port = 2380 },
        { member = "n2", role = "VOTER", host = "n2", client_port = 2379, peer_port = 2380 },
      ]
      endpoints = []
    }
  }

  expect_failures = [var.cluster]
}

run "an_open_client_port_is_refused" {
  command = plan

  variables {
    operator_cidr_blocks = ["0.0.0.0/0"]
  }

  expect_failures = [var.operator_cidr_blocks]
}
