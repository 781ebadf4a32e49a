variable "name" {
  description = "The federation's name (the topology module's `name`)."
  type        = string
}

variable "region" {
  description = "The AWS region these routers serve (the provider's region); the latency records route clients here when it is their nearest."
  type        = string
}

variable "routers" {
  description = "Routers in this region: at least 2, so one can be replaced while the other serves."
  type        = number
  default     = 2

  validation {
    condition     = var.routers >= 2 && floor(var.routers) == var.routers
    error_message = "routers: expected a whole number >= 2 (one router is a single point of failure for its region's clients)."
  }
}

variable "router_config" {
  description = "This region's router.yaml: the topology module's `router_configs[<region>]`."
  type        = string
}

variable "routing_table" {
  description = "The routing table the routers start with: the topology module's `routing_table`."
  type        = string
}

variable "port" {
  description = "The routers' listen port (the topology module's `routers[<region>].port`)."
  type        = number
  default     = 2390
}

variable "vpc_id" {
  description = "The VPC the routers run in."
  type        = string
}

variable "subnets" {
  description = "Subnets for the routers and their load balancer, one per availability zone."
  type = list(object({
    id                = string
    availability_zone = string
  }))

  validation {
    condition     = length(distinct([for s in var.subnets : s.availability_zone])) >= 2
    error_message = "subnets: expected subnets in at least two availability zones, so a zone's outage leaves the region's routers serving."
  }
}

variable "internal" {
  description = "Whether the load balancer is internal (clients inside the network) or internet-facing."
  type        = bool
  default     = true
}

variable "client_cidr_blocks" {
  description = "Networks whose clients may call the routers."
  type        = list(string)

  validation {
    condition     = length(var.client_cidr_blocks) > 0
    error_message = "client_cidr_blocks: empty (expected: the networks of the federation's clients)."
  }
}

variable "ami_id" {
  description = "The routers' machine image: a Linux with systemd and a Java 17 runtime."
  type        = string
}

variable "instance_type" {
  description = "The routers' instance type."
  type        = string
  default     = "c6i.large"
}

variable "distribution" {
  description = "Where the routers fetch the release archive from, and its SHA-256."
  type = object({
    url    = string
    sha256 = string
  })

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.distribution.sha256))
    error_message = "distribution.sha256: expected 64 lower-case hex digits."
  }
}

variable "dns" {
  description = "The Route 53 zone and the name clients use (e.g. meridian.example.com): every region's routers answer to it, and latency records send each client to its nearest healthy region."
  type = object({
    zone_id = string
    name    = string
  })
}

variable "tls" {
  description = "Secrets Manager ARNs of the CA, and of the routers' certificate and key, fetched at boot; null: no TLS material."
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
