# A federation over three regions: us-east-1 the PRIMARY of both shards, us-west-2 and eu-west-1
# STANDBY; five voters per shard and region; an MSK cluster in us-east-1 for the change topics;
# routers in every region behind latency records; snapshot buckets copying to the next region.

locals {
  regions = ["us-east-1", "us-west-2", "eu-west-1"]
  # Routers and bridges of every region reach every region's nodes (writes go to the primary).
  federation_cidrs = [for r in local.regions : var.networks[r].cidr]
}

module "topology" {
  source = "../../modules/topology"

  name                    = var.name
  regions                 = local.regions
  shards                  = 2
  voters                  = 5
  primary_regions         = ["us-east-1", "us-east-1"]
  dns_zone                = "${var.name}.internal"
  kafka_bootstrap_servers = module.replication_us_east_1.bootstrap_servers
}

# The nodes' names (<member>.s<shard>.<region>.<name>.internal), resolvable in every region's VPC.
resource "aws_route53_zone" "internal" {
  provider = aws.us_east_1
  name     = "${var.name}.internal"

  dynamic "vpc" {
    for_each = local.regions
    content {
      vpc_id     = var.networks[vpc.value].vpc_id
      vpc_region = vpc.value
    }
  }
}

# ---- us-east-1 ----

module "backups_us_east_1" {
  source    = "../../modules/backups"
  providers = { aws = aws.us_east_1 }

  name           = var.name
  region         = "us-east-1"
  retention_days = 14
  replicate_to = {
    bucket_arn  = module.backups_us_west_2.bucket_arn
    kms_key_arn = module.backups_us_west_2.kms_key_arn
  }
}

module "replication_us_east_1" {
  source    = "../../modules/replication"
  providers = { aws = aws.us_east_1 }

  name   = var.name
  region = "us-east-1"
  # The change topics live here, beside the shards' primary; its bridge ships to every standby.
  msk                  = { brokers = 3 }
  bridge               = true # the PRIMARY of both shards
  bridge_config        = module.topology.bridge_configs["us-east-1"]
  vpc_id               = var.networks["us-east-1"].vpc_id
  subnets              = var.networks["us-east-1"].subnets
  ami_id               = var.ami_ids["us-east-1"]
  distribution         = var.distribution
  operator_cidr_blocks = var.operator_cidr_blocks
}

module "routers_us_east_1" {
  source    = "../../modules/federation-router"
  providers = { aws = aws.us_east_1 }

  name               = var.name
  region             = "us-east-1"
  routers            = 2
  router_config      = module.topology.router_configs["us-east-1"]
  routing_table      = module.topology.routing_table
  port               = module.topology.routers["us-east-1"].port
  vpc_id             = var.networks["us-east-1"].vpc_id
  subnets            = var.networks["us-east-1"].subnets
  client_cidr_blocks = var.client_cidr_blocks
  ami_id             = var.ami_ids["us-east-1"]
  distribution       = var.distribution
  dns                = var.dns
}

module "clusters_us_east_1" {
  source    = "../../modules/region-cluster"
  providers = { aws = aws.us_east_1 }
  for_each  = toset(["0", "1"])

  name    = var.name
  cluster = module.topology.clusters["us-east-1/${each.key}"]
  node_configs = {
    for k, v in module.topology.node_configs : split("/", k)[2] => v if startswith(k, "us-east-1/${each.key}/")
  }
  vpc_id                        = var.networks["us-east-1"].vpc_id
  subnets                       = var.networks["us-east-1"].subnets
  ami_id                        = var.ami_ids["us-east-1"]
  distribution                  = var.distribution
  private_zone_id               = aws_route53_zone.internal.zone_id
  backup_writer_policy_json     = module.backups_us_east_1.writer_policy_json
  backup_bucket                 = module.backups_us_east_1.bucket_id
  client_source_security_groups = { router = module.routers_us_east_1.security_group_id, bridge = module.replication_us_east_1.bridge_security_group_id }
  client_cidr_blocks            = [for c in local.federation_cidrs : c if c != var.networks["us-east-1"].cidr]
  operator_cidr_blocks          = var.operator_cidr_blocks
}

# ---- us-west-2 ----

module "backups_us_west_2" {
  source    = "../../modules/backups"
  providers = { aws = aws.us_west_2 }

  name           = var.name
  region         = "us-west-2"
  retention_days = 14
  replicate_to = {
    bucket_arn  = module.backups_eu_west_1.bucket_arn
    kms_key_arn = module.backups_eu_west_1.kms_key_arn
  }
}

module "replication_us_west_2" {
  source    = "../../modules/replication"
  providers = { aws = aws.us_west_2 }

  name                 = var.name
  region               = "us-west-2"
  bootstrap_servers    = module.replication_us_east_1.bootstrap_servers
  bridge               = false # a STANDBY of both shards: us-east-1's bridge ships to it
  vpc_id               = var.networks["us-west-2"].vpc_id
  subnets              = var.networks["us-west-2"].subnets
  ami_id               = var.ami_ids["us-west-2"]
  distribution         = var.distribution
  operator_cidr_blocks = var.operator_cidr_blocks
}

module "routers_us_west_2" {
  source    = "../../modules/federation-router"
  providers = { aws = aws.us_west_2 }

  name               = var.name
  region             = "us-west-2"
  routers            = 2
  router_config      = module.topology.router_configs["us-west-2"]
  routing_table      = module.topology.routing_table
  port               = module.topology.routers["us-west-2"].port
  vpc_id             = var.networks["us-west-2"].vpc_id
  subnets            = var.networks["us-west-2"].subnets
  client_cidr_blocks = var.client_cidr_blocks
  ami_id             = var.ami_ids["us-west-2"]
  distribution       = var.distribution
  dns                = var.dns
}

module "clusters_us_west_2" {
  source    = "../../modules/region-cluster"
  providers = { aws = aws.us_west_2 }
  for_each  = toset(["0", "1"])

  name    = var.name
  cluster = module.topology.clusters["us-west-2/${each.key}"]
  node_configs = {
    for k, v in module.topology.node_configs : split("/", k)[2] => v if startswith(k, "us-west-2/${each.key}/")
  }
  vpc_id                        = var.networks["us-west-2"].vpc_id
  subnets                       = var.networks["us-west-2"].subnets
  ami_id                        = var.ami_ids["us-west-2"]
  distribution                  = var.distribution
  private_zone_id               = aws_route53_zone.internal.zone_id
  backup_writer_policy_json     = module.backups_us_west_2.writer_policy_json
  backup_bucket                 = module.backups_us_west_2.bucket_id
  client_source_security_groups = { router = module.routers_us_west_2.security_group_id, bridge = module.replication_us_west_2.bridge_security_group_id }
  client_cidr_blocks            = [for c in local.federation_cidrs : c if c != var.networks["us-west-2"].cidr]
  operator_cidr_blocks          = var.operator_cidr_blocks
}

# ---- eu-west-1 ----

module "backups_eu_west_1" {
  source    = "../../modules/backups"
  providers = { aws = aws.eu_west_1 }

  name           = var.name
  region         = "eu-west-1"
  retention_days = 14
  replicate_to = {
    bucket_arn  = module.backups_us_east_1.bucket_arn
    kms_key_arn = module.backups_us_east_1.kms_key_arn
  }
}

module "replication_eu_west_1" {
  source    = "../../modules/replication"
  providers = { aws = aws.eu_west_1 }

  name                 = var.name
  region               = "eu-west-1"
  bootstrap_servers    = module.replication_us_east_1.bootstrap_servers
  bridge               = false # a STANDBY of both shards: us-east-1's bridge ships to it
  vpc_id               = var.networks["eu-west-1"].vpc_id
  subnets              = var.networks["eu-west-1"].subnets
  ami_id               = var.ami_ids["eu-west-1"]
  distribution         = var.distribution
  operator_cidr_blocks = var.operator_cidr_blocks
}

module "routers_eu_west_1" {
  source    = "../../modules/federation-router"
  providers = { aws = aws.eu_west_1 }

  name               = var.name
  region             = "eu-west-1"
  routers            = 2
  router_config      = module.topology.router_configs["eu-west-1"]
  routing_table      = module.topology.routing_table
  port               = module.topology.routers["eu-west-1"].port
  vpc_id             = var.networks["eu-west-1"].vpc_id
  subnets            = var.networks["eu-west-1"].subnets
  client_cidr_blocks = var.client_cidr_blocks
  ami_id             = var.ami_ids["eu-west-1"]
  distribution       = var.distribution
  dns                = var.dns
}

module "clusters_eu_west_1" {
  source    = "../../modules/region-cluster"
  providers = { aws = aws.eu_west_1 }
  for_each  = toset(["0", "1"])

  name    = var.name
  cluster = module.topology.clusters["eu-west-1/${each.key}"]
  node_configs = {
    for k, v in module.topology.node_configs : split("/", k)[2] => v if startswith(k, "eu-west-1/${each.key}/")
  }
  vpc_id                        = var.networks["eu-west-1"].vpc_id
  subnets                       = var.networks["eu-west-1"].subnets
  ami_id                        = var.ami_ids["eu-west-1"]
  distribution                  = var.distribution
  private_zone_id               = aws_route53_zone.internal.zone_id
  backup_writer_policy_json     = module.backups_eu_west_1.writer_policy_json
  backup_bucket                 = module.backups_eu_west_1.bucket_id
  client_source_security_groups = { router = module.routers_eu_west_1.security_group_id, bridge = module.replication_eu_west_1.bridge_security_group_id }
  client_cidr_blocks            = [for c in local.federation_cidrs : c if c != var.networks["eu-west-1"].cidr]
  operator_cidr_blocks          = var.operator_cidr_blocks
}
