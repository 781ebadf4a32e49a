variable "name" {
  description = "The federation's name (the topology module's `name`)."
  type        = string
}

variable "cluster" {
  description = "This shard's cluster in this region: the topology module's `clusters[\"<region>/<shard>\"]`."
  type = object({
    region = string
    shard  = number
    role   = string
    members = list(object({
      member      = string
      role        = string
      host        = string
      client_port = number
      peer_port   = number
    }))
    endpoints = list(string)
  })

  validation {
    condition     = length([for m in var.cluster.members : m if m.role == "VOTER"]) % 2 == 1
    error_message = "cluster: an even number of voters tolerates no more failures than one fewer; use the topology module's output."
  }
}

variable "node_configs" {
  description = "Each member's node.yaml by member id: the topology module's `node_configs` for this cluster's nodes."
  type        = map(string)

  validation {
    condition     = length(var.node_configs) > 0
    error_message = "node_configs: empty (expected: one per member)."
  }
}

variable "vpc_id" {
  description = "The VPC the cluster runs in."
  type        = string
}

variable "subnets" {
  description = "Private subnets to spread the members over, with their availability zones: members go round-robin over them, so list one per zone."
  type = list(object({
    id                = string
    availability_zone = string
  }))

  validation {
    condition     = length(distinct([for s in var.subnets : s.availability_zone])) >= 3
    error_message = "subnets: expected subnets in at least three availability zones. With two, one zone's outage can take a majority of the voters, and the shard stops taking writes."
  }
}

variable "ami_id" {
  description = "The machine image of the nodes: a Linux with systemd and a Java 17 runtime (cloud-init installs the release archive)."
  type        = string
}

variable "instance_type" {
  description = "The nodes' instance type (docs/operations.md, Sizing)."
  type        = string
  default     = "m6i.large"
}

variable "data_volume_gb" {
  description = "Size of each node's data volume (Raft log, snapshots)."
  type        = number
  default     = 100

  validation {
    condition     = var.data_volume_gb >= 10
    error_message = "data_volume_gb: expected at least 10."
  }
}

variable "data_volume_kms_key_arn" {
  description = "The KMS key the data volumes are encrypted with; null: the account's default EBS key (they are encrypted either way)."
  type        = string
  default     = null
}

variable "client_source_security_groups" {
  description = "Security groups allowed to reach the client port, by a name of your choosing: the region's routers and bridge, e.g. { router = ..., bridge = ... } (the names are static, so the rules are known at plan while the groups are being made)."
  type        = map(string)
  default     = {}
}

variable "client_cidr_blocks" {
  description = "Networks of the other regions' routers and bridges, which reach the client port across regions (security groups do not cross regions)."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.client_cidr_blocks, "0.0.0.0/0")
    error_message = "client_cidr_blocks: 0.0.0.0/0 would open the client port to everyone; list the routers' and bridges' networks."
  }
}

variable "operator_cidr_blocks" {
  description = "Networks operators run meridianctl from (client port only)."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.operator_cidr_blocks, "0.0.0.0/0")
    error_message = "operator_cidr_blocks: 0.0.0.0/0 would open the client port to everyone; list the operators' networks."
  }
}

variable "backup_writer_policy_json" {
  description = "The IAM policy that lets the nodes write snapshot files to the region's bucket: the backups module's `writer_policy_json`."
  type        = string
}

variable "backup_bucket" {
  description = "The region's snapshot bucket (the backups module's `bucket_id`): the nodes' scheduled backups are copied there."
  type        = string
}

variable "distribution" {
  description = "Where the nodes fetch the release archive (meridian-VERSION.tar.gz) from, and its SHA-256."
  type = object({
    url    = string
    sha256 = string
  })

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.distribution.sha256))
    error_message = "distribution.sha256: expected 64 lower-case hex digits."
  }
}

variable "private_zone_id" {
  description = "The Route 53 private zone of the topology's `dns_zone`: each member's name is recorded there."
  type        = string
}

variable "tls" {
  description = "Secrets Manager ARNs of the cluster CA, and of the nodes' certificate and key (PEM), fetched at boot with the instance role; nothing secret passes through Terraform's state. null: no TLS material."
  type = object({
    ca_secret_arn   = string
    cert_secret_arn = string
    key_secret_arn  = string
  })
  default = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
