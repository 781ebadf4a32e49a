# Offline: every region's AWS provider is mocked; the whole federation is planned and applied
# against the mocks.

mock_provider "aws" {
  alias  = "us_east_1"
  source = "../../testing/aws"
}

mock_provider "aws" {
  alias  = "us_west_2"
  source = "../../testing/aws"
}

mock_provider "aws" {
  alias  = "eu_west_1"
  source = "../../testing/aws"
}

variables {
  networks = {
    "us-east-1" = { vpc_id = "vpc-e", cidr = "10.0.0.0/16", subnets = [
      { id = "subnet-e1", availability_zone = "us-east-1a" },
      { id = "subnet-e2", availability_zone = "us-east-1b" },
      { id = "subnet-e3", availability_zone = "us-east-1c" },
    ] }
    "us-west-2" = { vpc_id = "vpc-w", cidr = "10.1.0.0/16", subnets = [
      { id = "subnet-w1", availability_zone = "us-west-2a" },
      { id = "subnet-w2", availability_zone = "us-west-2b" },
      { id = "subnet-w3", availability_zone = "us-west-2c" },
    ] }
    "eu-west-1" = { vpc_id = "vpc-u", cidr = "10.2.0.0/16", subnets = [
      { id = "subnet-u1", availability_zone = "eu-west-1a" },
      { id = "subnet-u2", availability_zone = "eu-west-1b" },
      { id = "subnet-u3", availability_zone = "eu-west-1c" },
    ] }
  }
  ami_ids            = { "us-east-1" = "ami-e", "us-west-2" = "ami-w", "eu-west-1" = "ami-u" }
  distribution       = { url = "https://example.invalid/meridian-0.1.0.tar.gz", sha256 = "0000000000000000000000000000000000000000000000000000000000000000" }
  dns                = { zone_id = "Z1", name = "meridian.example.com" }
  client_cidr_blocks = ["10.0.0.0/8"]
}

run "the_whole_federation" {
  # three regions two shards five voters
  assert {
    condition     = length(module.topology.nodes) == 3 * 2 * 5
    error_message = "a node per region, shard and voter"
  }
  assert {
    condition     = length(module.clusters_us_east_1) == 2 && length(module.clusters_us_west_2) == 2 && length(module.clusters_eu_west_1) == 2
    error_message = "a cluster per shard in every region"
  }
  assert {
    condition     = alltrue([for c in values(module.clusters_eu_west_1) : length(distinct(values(c.availability_zones))) == 3])
    error_message = "every cluster spread over three zones"
  }
  assert {
    condition     = module.topology.clusters["us-east-1/1"].role == "PRIMARY" && module.topology.clusters["eu-west-1/1"].role == "STANDBY"
    error_message = "us-east-1 is the primary of both shards"
  }

  # a latency record for every region
  assert {
    condition = [
      module.routers_us_east_1.latency_record.region,
      module.routers_us_west_2.latency_record.region,
      module.routers_eu_west_1.latency_record.region,
    ] == ["us-east-1", "us-west-2", "eu-west-1"]
    error_message = "each region's routers have the latency record for their region"
  }
  assert {
    condition = alltrue([for r in [module.routers_us_east_1, module.routers_us_west_2, module.routers_eu_west_1] :
    r.latency_record.name == "meridian.example.com" && r.latency_record.evaluate_target_health])
    error_message = "all under the federation's name, each following its routers' health"
  }

  # one bridge beside the primaries and kafka
  assert {
    condition     = output.kafka_bootstrap_servers != null
    error_message = "the MSK cluster in us-east-1 is the bridges' Kafka"
  }
}

