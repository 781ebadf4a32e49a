output "instance_profile_name" {
  description = "The instance profile to give the machines."
  value       = aws_iam_instance_profile.this.name
}

output "policy_names" {
  description = "The role's inline policies, sorted (tls-material among them when it reads secrets)."
  value       = sort(concat(keys(var.policies), [for p in aws_iam_role_policy.secrets : p.name]))
}
