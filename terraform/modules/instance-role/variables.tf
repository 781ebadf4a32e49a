variable "name" {
  description = "The role's and the instance profile's name."
  type        = string
}

variable "policies" {
  description = "Inline policies by name (JSON documents), e.g. the backups module's `writer_policy_json`."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Secrets Manager secrets the machines read at boot (TLS material); empty: none."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
