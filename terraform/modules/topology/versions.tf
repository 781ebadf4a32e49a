terraform {
  # Cross-variable validation (primary regions against the region list) needs 1.9.
  required_version = ">= 1.9"
}
