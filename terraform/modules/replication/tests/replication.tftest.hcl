# Offline: the AWS provider is mocked; these assert what the module asks AWS for.

mock_provider "aws" {
  # Policy documents must be JSON objects, and ARNs and ids look like AWS's: the provider checks
  # them even when mocked.
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn      = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/meridian/0123456789abcdef"
      dns_name = "meridian-0123456789abcdef.elb.us-east-1.amazonaws.com"
      zone_id  = "Z26RNL4JYFTOTI"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/meridian/0123456789abcdef"
    }
  }
  mock_resource "aws_launch_template" {
    defaults = {
      id = "lt-0123456789abcdef0"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::111122223333:role/meridian"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:us-east-1:111122223333:key/meridian"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::meridian-snapshots-us-east-1"
    }
  }
  mock_resource "aws_msk_configuration" {
    defaults = {
      arn = "arn:aws:kafka:us-east-1:111122223333:configuration/meridian/0123"
    }
  }
  mock_resource "aws_instance" {
    defaults = {
      id         = "i-0123456789abcdef0"
      private_ip = "10.0.1.10"
    }
  }
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
