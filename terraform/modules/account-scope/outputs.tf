output "account_id" {
  description = "The account's 12-digit id: the target role ARN's, or account_id for the hub."
  value       = local.account_id

  precondition {
    condition     = var.account == null || local.target != null
    error_message = "ecs-cost-saver: account ${jsonencode(var.account)} is no key of the schedule file's `accounts` (${jsonencode(sort(keys(var.schedule.accounts)))})."
  }
  precondition {
    condition     = var.account != null || var.account_id != null
    error_message = "ecs-cost-saver: the hub's scope (account = null) needs its account_id."
  }
}

output "role" {
  description = "A target account's role as the file names it: arn, name and path (\"/\" or \"/PATH/\"); null for the hub."
  value = local.role_parts == null ? null : {
    arn  = local.target.role_arn
    name = local.role_parts[3]
    path = "/${local.role_parts[2]}"
  }
}

output "external_id" {
  description = "The account's external_id from the file, or null."
  value       = try(local.target.external_id, null)
}

output "assume_role_conditions" {
  description = "The conditions of the target role's trust: sts:ExternalId when the file gives an external_id, else none. Each: test, variable, values."
  value       = local.assume_role_conditions
}

output "regions" {
  description = "The regions of the account's clusters and capacity groups, sorted (default_region when it has none)."
  value       = local.regions
}

output "cluster_arns" {
  description = "The account's clusters, each in its region, sorted."
  value       = local.cluster_arns
}

output "cluster_arns_by_region" {
  description = "The same, per region of `regions` (a regional Spot rule matches its own region's)."
  value       = local.cluster_arns_by_region
}

output "service_arns" {
  description = "The account's named services, and service/CLUSTER/* for each selector's cluster."
  value       = local.service_arns
}

output "cluster_services" {
  description = "service/CLUSTER/* of every cluster of the account."
  value       = local.cluster_services
}

output "cluster_container_instances" {
  description = "container-instance/CLUSTER/* of every cluster of the account."
  value       = local.cluster_container_instances
}

output "cluster_tasks" {
  description = "task/CLUSTER/* of every cluster of the account."
  value       = local.cluster_tasks
}

output "autoscaling_group_arns" {
  description = "The account's `capacity` groups (autoScalingGroup:*:autoScalingGroupName/NAME), each in its environment's region."
  value       = local.autoscaling_group_arns
}

output "capacity_provider_arns" {
  description = "Any capacity provider of the account, per region of `regions`."
  value       = local.capacity_provider_arns
}

output "scalable_target_arns" {
  description = "Any Application Auto Scaling scalable target of the account, per region of `regions`."
  value       = local.scalable_target_arns
}

output "target_group_arns" {
  description = "Any target group of the account, per region of `regions`."
  value       = local.target_group_arns
}
