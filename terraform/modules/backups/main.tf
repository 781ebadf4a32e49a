# A region's snapshot bucket: versioned, encrypted with a key of its own, never public, files
# expiring after the retention, and (optionally) every snapshot copied to another region's bucket.

locals {
  bucket = "${var.name}-snapshots-${var.region}"
}

resource "aws_kms_key" "snapshots" {
  description         = "Meridian snapshot files in ${local.bucket}"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_s3_bucket" "snapshots" {
  bucket = local.bucket
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "snapshots" {
  bucket                  = aws_s3_bucket.snapshots.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.snapshots.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "snapshots" {
  bucket = aws_s3_bucket.snapshots.id

  rule {
    id     = "retention"
    status = "Enabled"
    filter {}

    expiration {
      days = var.retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "replication_assume" {
  count = var.replicate_to == null ? 0 : 1
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "replication" {
  count = var.replicate_to == null ? 0 : 1
  statement {
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [aws_s3_bucket.snapshots.arn]
  }
  statement {
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = ["${aws_s3_bucket.snapshots.arn}/*"]
  }
  statement {
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = ["${var.replicate_to.bucket_arn}/*"]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.snapshots.arn]
  }
  statement {
    actions   = ["kms:Encrypt"]
    resources = [var.replicate_to.kms_key_arn]
  }
}

resource "aws_iam_role" "replication" {
  count              = var.replicate_to == null ? 0 : 1
  name               = "${local.bucket}-replication"
  assume_role_policy = data.aws_iam_policy_document.replication_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "replication" {
  count  = var.replicate_to == null ? 0 : 1
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "snapshots" {
  count = var.replicate_to == null ? 0 : 1
  # Replication needs versioning on first.
  depends_on = [aws_s3_bucket_versioning.snapshots]

  bucket = aws_s3_bucket.snapshots.id
  role   = aws_iam_role.replication[0].arn

  rule {
    id     = "snapshots-to-${element(split(":", var.replicate_to.bucket_arn), 5)}"
    status = "Enabled"
    filter {}

    delete_marker_replication {
      status = "Disabled"
    }
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }
    destination {
      bucket        = var.replicate_to.bucket_arn
      storage_class = "STANDARD_IA"
      encryption_configuration {
        replica_kms_key_id = var.replicate_to.kms_key_arn
      }
    }
  }
}

# What a node's instance role needs to write its shard's snapshots here and read them back.
data "aws_iam_policy_document" "writer" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.snapshots.arn]
  }
  statement {
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.snapshots.arn}/*"]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.snapshots.arn]
  }
}
