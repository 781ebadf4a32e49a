variable "name" {
  description = "Prefix of every name this federation's resources and hosts get, e.g. \"meridian\"."
  type        = string
  default     = "meridian"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name))
    error_message = "name: lower-case letters, digits and '-', starting with a letter, at most 31 characters."
  }
}

variable "regions" {
  description = "The federation's regions, in the order routers fall back through them (e.g. [\"us-east-1\", \"us-west-2\"])."
  type        = list(string)

  validation {
    condition     = length(var.regions) > 0
    error_message = "regions: empty (expected: at least one region)."
  }
  validation {
    condition     = length(distinct(var.regions)) == length(var.regions)
    error_message = "regions: a region is listed twice."
  }
}

variable "shards" {
  description = "Number of shards; the 4096 routing slots are split evenly among them."
  type        = number
  default     = 1

  validation {
    condition     = var.shards >= 1 && var.shards <= 4096 && floor(var.shards) == var.shards
    error_message = "shards: expected a whole number from 1 to 4096."
  }
}

variable "voters" {
  description = "Voting members of each shard's cluster in each region: 3, 5 or 7."
  type        = number
  default     = 3

  validation {
    condition     = contains([3, 5, 7], var.voters)
    error_message = "voters: expected 3, 5 or 7. A quorum is floor(N/2)+1, so an even number tolerates no more failures than one voter fewer (4 tolerate 1, as 3 do) while every write waits for one more member; 1 is for development only."
  }
}

variable "listeners" {
  description = "Non-voting members of each cluster (they serve reads and watches and never slow a write)."
  type        = number
  default     = 0

  validation {
    condition     = var.listeners >= 0 && var.listeners <= 16 && floor(var.listeners) == var.listeners
    error_message = "listeners: expected a whole number from 0 to 16."
  }
}

variable "primary_regions" {
  description = "The PRIMARY region of each shard, by shard number (index 0 is shard 0). Shards not listed have the first region as their primary."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.primary_regions : contains(var.regions, r)])
    error_message = "primary_regions: names a region that is not in regions."
  }
  validation {
    condition     = length(var.primary_regions) <= var.shards
    error_message = "primary_regions: lists more shards than shards."
  }
}

variable "ports" {
  description = "Ports: a node's client (gRPC + HTTP) and peer (Raft) ports, a router's and a bridge's listen port."
  type = object({
    client = optional(number, 2379)
    peer   = optional(number, 2380)
    router = optional(number, 2390)
    bridge = optional(number, 2391)
  })
  default = {}

  validation {
    condition     = alltrue([for p in values(var.ports) : p >= 1 && p <= 65535])
    error_message = "ports: expected 1..65535."
  }
  validation {
    condition     = length(distinct(values(var.ports))) == 4
    error_message = "ports: two roles share a port."
  }
}

variable "dns_zone" {
  description = "The private DNS zone the hosts' names are in: a node is <member>.s<shard>.<region>.<zone>, a router router.<region>.<zone>."
  type        = string
  default     = "meridian.internal"
}

variable "hosts" {
  description = "Addresses to use instead of the DNS names, by process: \"<region>/<shard>/<member>\" for a node, \"<region>/router\" and \"<region>/bridge\". For one-host deployments and tests; with port_stride, processes on one host get distinct ports."
  type        = map(string)
  default     = {}
}

variable "port_stride" {
  description = "0: every process listens on the ports in `ports`. N >= 2: the i-th node (in region, shard, member order) adds i*N to its client and peer ports, and the routers and bridges start past the last node, so a whole federation fits one host (tests, a laptop)."
  type        = number
  default     = 0

  validation {
    condition     = var.port_stride == 0 || (var.port_stride >= 2 && floor(var.port_stride) == var.port_stride)
    error_message = "port_stride: expected 0 or a whole number >= 2 (a node's client and peer ports are one apart)."
  }
}

variable "bind_address" {
  description = "The address every process listens on (0.0.0.0: all of the host's; 127.0.0.1 for a one-host test)."
  type        = string
  default     = "0.0.0.0"
}

variable "data_dir" {
  description = "Under it, each node keeps its Raft log and snapshots in <region>/s<shard>/<member>; the node's systemd unit may write /var/lib/meridian only."
  type        = string
  default     = "/var/lib/meridian/data"
}

variable "backup_dir" {
  description = "Where the shard's leader writes scheduled snapshot files (empty: no scheduled backups)."
  type        = string
  default     = "/var/lib/meridian/backups"
}

variable "kafka_bootstrap_servers" {
  description = "The Kafka cluster the bridges ship through (host:port,...), written into every bridge config (a federation of one region has no bridge)."
  type        = string
  default     = ""
}

variable "write_authority_ms" {
  description = "replication.write-authority-ms of every node: a PRIMARY whose revisions have not reached Kafka for this long refuses writes."
  type        = number
  default     = 15000
}
