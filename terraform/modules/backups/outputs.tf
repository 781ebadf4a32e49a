output "bucket_id" {
  description = "The snapshot bucket's name."
  value       = aws_s3_bucket.snapshots.id
}

output "bucket_arn" {
  description = "The snapshot bucket's ARN (another region's `replicate_to.bucket_arn`)."
  value       = aws_s3_bucket.snapshots.arn
}

output "kms_key_arn" {
  description = "The key the bucket encrypts with (another region's `replicate_to.kms_key_arn`)."
  value       = aws_kms_key.snapshots.arn
}

output "writer_policy_json" {
  description = "An IAM policy that lets a node's instance role write snapshot files here and read them back."
  value       = data.aws_iam_policy_document.writer.json
}
