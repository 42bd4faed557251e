output "patterns" {
  description = "Rule name suffix -> event pattern (JSON): fargate-spot (only with clusters: an empty list would match no event, and EventBridge refuses it) and ec2-spot."
  value       = { for name, pattern in local.patterns : name => pattern if name != "fargate-spot" || length(var.cluster_arns) > 0 }
}
