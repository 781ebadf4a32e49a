variable "name" {
  description = "The federation's name (the topology module's `name`)."
  type        = string
}

variable "region" {
  description = "The AWS region of this part of the replication (the provider's region)."
  type        = string
}

variable "msk" {
  description = "Create an Amazon MSK cluster here for the federation's change topics; null: use `bootstrap_servers` (an existing Kafka, or the MSK cluster another region's instance of this module made)."
  type = object({
    kafka_version        = optional(string, "3.7.x")
    broker_instance_type = optional(string, "kafka.m5.large")
    brokers              = optional(number, 3)
    volume_gb            = optional(number, 500)
  })
  default = null
}

variable "bootstrap_servers" {
  description = "An existing Kafka cluster's bootstrap string (host:port,...), when `msk` is null."
  type        = string
  default     = null

  validation {
    condition     = (var.msk == null) != (var.bootstrap_servers == null)
    error_message = "bootstrap_servers: give either msk (create a cluster here) or bootstrap_servers (use an existing one), not both and not neither."
  }
}

variable "bridge" {
  description = "Whether a bridge runs in this region (one does where a shard's primary is: the topology module's `bridge_configs` has the region). A plain flag, so the count is known at plan even while the config's Kafka address is not."
  type        = bool
  default     = false
}

variable "bridge_config" {
  description = "This region's bridge.yaml (the topology module's `bridge_configs[<region>]`), with `bridge`."
  type        = string
  default     = null
}

variable "bridge_port" {
  description = "The bridge's listen port (health, metrics, status)."
  type        = number
  default     = 2391
}

variable "vpc_id" {
  description = "The VPC the brokers and the bridge run in."
  type        = string
}

variable "subnets" {
  description = "Subnets for the brokers and the bridge, one per availability zone."
  type = list(object({
    id                = string
    availability_zone = string
  }))

  validation {
    condition     = length(distinct([for s in var.subnets : s.availability_zone])) >= 2
    error_message = "subnets: expected subnets in at least two availability zones."
  }
}

variable "kafka_client_security_group_ids" {
  description = "Other groups allowed to reach the brokers (other regions' bridges, operators' tools)."
  type        = list(string)
  default     = []
}

variable "operator_cidr_blocks" {
  description = "Networks allowed to read the bridge's /health, /metrics and status."
  type        = list(string)
  default     = []
}

variable "ami_id" {
  description = "The bridge's machine image: a Linux with systemd and a Java 17 runtime."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "The bridge's instance type."
  type        = string
  default     = "c6i.large"
}

variable "distribution" {
  description = "Where the bridge fetches the release archive from, and its SHA-256 (needed with a bridge_config)."
  type = object({
    url    = string
    sha256 = string
  })
  default = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
