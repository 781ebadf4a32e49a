# Offline: the AWS provider is mocked; these assert what the module asks AWS for.

mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  name   = "meridian"
  region = "us-east-1"
}

run "versioned_encrypted_private_and_expiring" {
  command = plan

  assert {
    condition     = aws_s3_bucket.snapshots.bucket == "meridian-snapshots-us-east-1"
    error_message = "the bucket is <name>-snapshots-<region>"
  }
  assert {
    condition     = aws_s3_bucket_versioning.snapshots.versioning_configuration[0].status == "Enabled"
    error_message = "versioning is on"
  }
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.snapshots.block_public_acls,
      aws_s3_bucket_public_access_block.snapshots.block_public_policy,
      aws_s3_bucket_public_access_block.snapshots.ignore_public_acls,
      aws_s3_bucket_public_access_block.snapshots.restrict_public_buckets,
    ])
    error_message = "the bucket is never public"
  }
  assert {
    condition = alltrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.snapshots.rule :
      r.apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    ])
    error_message = "files are encrypted with the bucket's KMS key"
  }
  assert {
    condition     = aws_kms_key.snapshots.enable_key_rotation
    error_message = "the key rotates"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.snapshots.rule[0].expiration[0].days == 14
    error_message = "files expire after the retention (14 days by default)"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.snapshots.rule[0].noncurrent_version_expiration[0].noncurrent_days == 14
    error_message = "replaced versions expire after the retention too"
  }
  assert {
    condition     = length(aws_s3_bucket_replication_configuration.snapshots) == 0
    error_message = "no cross-region copy unless asked"
  }
}

run "every_snapshot_is_copied_to_another_region" {
  command = plan

  variables {
    retention_days = 30
    replicate_to = {
      bucket_arn  = "arn:aws:s3:::meridian-snapshots-us-west-2"
      kms_key_arn = "arn:aws:kms:us-west-2:111122223333:key/replica"
    }
  }

  assert {
    condition     = aws_s3_bucket_replication_configuration.snapshots[0].rule[0].destination[0].bucket == "arn:aws:s3:::meridian-snapshots-us-west-2"
    error_message = "snapshots are replicated to the other region's bucket"
  }
  assert {
    condition     = aws_s3_bucket_replication_configuration.snapshots[0].rule[0].destination[0].encryption_configuration[0].replica_kms_key_id == "arn:aws:kms:us-west-2:111122223333:key/replica"
    error_message = "replicas are encrypted with the other region's key"
  }
  assert {
    condition     = aws_s3_bucket_replication_configuration.snapshots[0].rule[0].status == "Enabled"
    error_message = "the replication rule is on"
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.snapshots.rule[0].expiration[0].days == 30
    error_message = "the retention is the one asked for"
  }
}

run "a_retention_under_seven_days_is_refused" {
  command = plan

  variables {
    retention_days = 3
  }

  expect_failures = [var.retention_days]
}

run "a_retention_over_thirty_days_is_refused" {
  command = plan

  variables {
    retention_days = 90
  }

  expect_failures = [var.retention_days]
}
