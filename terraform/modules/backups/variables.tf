variable "name" {
  description = "The federation's name (the topology module's `name`); the bucket is <name>-snapshots-<region>."
  type        = string
}

variable "region" {
  description = "The AWS region this bucket is in (the provider's region)."
  type        = string
}

variable "retention_days" {
  description = "How long a snapshot file (and a replaced or deleted version of one) is kept: 7 to 30 days."
  type        = number
  default     = 14

  validation {
    condition     = var.retention_days >= 7 && var.retention_days <= 30 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days: expected a whole number from 7 to 30. Fewer than 7 days leaves no snapshot older than a week-long incident; point-in-time restore needs the snapshot before the revision asked for."
  }
}

variable "replicate_to" {
  description = "Another region's snapshot bucket (this module's `bucket_arn` and `kms_key_arn` there) that every snapshot is copied to; null: no cross-region copy."
  type = object({
    bucket_arn  = string
    kms_key_arn = string
  })
  default = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
