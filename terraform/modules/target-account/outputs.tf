output "role_arn" {
  description = "The role the hub's functions assume here (the file's role_arn), or null when this instance creates none (create_role = false)."
  value       = one(aws_iam_role.target[*].arn)
}

output "rule_names" {
  description = "The rules here that forward Spot interruptions to the hub's bus."
  value       = sort([for r in aws_cloudwatch_event_rule.forward : r.name])
}
