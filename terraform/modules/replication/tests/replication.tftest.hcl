# Offline: the AWS provider is mocked; these assert what the module asks AWS for.

mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  name   = "meridian"
  region = "us-east-1"
  vpc_id = "vpc-1"
  subnets = [
    { id = "subnet-a", availability_zone = "us-east-1a" },
    { id = "subnet-b", availability_zone = "us-east-1b" },
    { id = "subnet-c", availability_zone = "us-east-1c" },
  ]
  ami_id       = "ami-1"
  distribution = { url = "https://example.invalid/meridian-0.1.0.tar.gz", sha256 = "0000000000000000000000000000000000000000000000000000000000000000" }
}

run "an_msk_cluster_for_the_change_topics_and_one_bridge" {
  variables {
    msk           = {}
    bridge        = true
    bridge_config = "listen: {port: 2391}\n"
  }

  assert {
    condition     = aws_msk_cluster.changes[0].number_of_broker_nodes == 3 && aws_msk_cluster.changes[0].encryption_info[0].encryption_in_transit[0].in_cluster
    error_message = "three brokers, encrypted among themselves"
  }
  assert {
    condition     = strcontains(aws_msk_configuration.changes[0].server_properties, "min.insync.replicas=2") && strcontains(aws_msk_configuration.changes[0].server_properties, "auto.create.topics.enable=false")
    error_message = "acknowledged by two copies; no topic made by accident"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.kafka_from_bridge[0].referenced_security_group_id == aws_security_group.bridge.id && aws_vpc_security_group_ingress_rule.kafka_from_bridge[0].from_port == 9092
    error_message = "the brokers take the bridge's connections"
  }
  assert {
    condition     = aws_autoscaling_group.bridge[0].min_size == 1 && aws_autoscaling_group.bridge[0].max_size == 1
    error_message = "exactly one bridge: a second copy would fence the first"
  }
  assert {
    condition     = output.bootstrap_servers == aws_msk_cluster.changes[0].bootstrap_brokers
    error_message = "the bridges use the MSK cluster"
  }
}

run "an_existing_kafka" {
  variables {
    bootstrap_servers = "kafka-1:9092,kafka-2:9092"
  }

  assert {
    condition     = length(aws_msk_cluster.changes) == 0 && output.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    error_message = "no MSK cluster; the given bootstrap string"
  }
  assert {
    condition     = length(aws_autoscaling_group.bridge) == 0
    error_message = "no bridge unless asked"
  }
}

run "neither_msk_nor_a_bootstrap_string_is_refused" {
  command = plan

  expect_failures = [var.bootstrap_servers]
}

run "both_are_refused" {
  command = plan

  variables {
    msk               = {}
    bootstrap_servers = "kafka-1:9092"
  }

  expect_failures = [var.bootstrap_servers]
}

run "brokers_not_a_multiple_of_the_zones_are_refused" {
  command = plan

  variables {
    msk = { brokers = 4 }
  }

  expect_failures = [aws_msk_cluster.changes]
}
