variable "name" {
  description = "The federation's name."
  type        = string
  default     = "meridian"
}

variable "networks" {
  description = "Each region's VPC, its private subnets (one per availability zone, three zones at least) and the CIDR of its routers' and bridges' subnets."
  type = map(object({
    vpc_id = string
    subnets = list(object({
      id                = string
      availability_zone = string
    }))
    cidr = string
  }))

  validation {
    condition     = alltrue([for r in ["us-east-1", "us-west-2", "eu-west-1"] : contains(keys(var.networks), r)])
    error_message = "networks: expected entries for us-east-1, us-west-2 and eu-west-1."
  }
}

variable "ami_ids" {
  description = "Each region's machine image (Linux, systemd, Java 17, the AWS CLI)."
  type        = map(string)
}

variable "distribution" {
  description = "Where the machines fetch the release archive (meridian-VERSION.tar.gz), and its SHA-256."
  type = object({
    url    = string
    sha256 = string
  })
}

variable "dns" {
  description = "The Route 53 zone and name the federation's clients use (e.g. meridian.example.com)."
  type = object({
    zone_id = string
    name    = string
  })
}

variable "client_cidr_blocks" {
  description = "Networks of the federation's clients."
  type        = list(string)
}

variable "operator_cidr_blocks" {
  description = "Networks operators run meridianctl from."
  type        = list(string)
  default     = []
}
