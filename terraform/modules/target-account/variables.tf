variable "schedule_file" {
  description = "The hub's schedule YAML (the same file): its `accounts` entry for this account names the role created here, its entries what the role may change."
  type        = string
}

variable "account" {
  description = "This account's key in the file's `accounts`. Null: an instance in the hub account itself, for one of its other regions, which only forwards that region's Spot events (create_role = false)."
  type        = string
  nullable    = true
}

variable "default_region" {
  description = "The hub function's region (where the hub module is applied): the region of the entries that name none."
  type        = string
}

variable "hub_role_arns" {
  description = "The roles that may assume this account's role: the hub module's function_role_arn and spot_role_arn."
  type        = list(string)

  validation {
    condition     = length(var.hub_role_arns) > 0 && alltrue([for arn in var.hub_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]+$", arn))])
    error_message = "hub_role_arns must be role ARNs (the hub module's function_role_arn and spot_role_arn)."
  }
}

variable "hub_event_bus_arn" {
  description = "The hub's default event bus (the hub module's event_bus_arn), where this region's Spot events are forwarded."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/default$", var.hub_event_bus_arn))
    error_message = "hub_event_bus_arn must be the hub's default event bus, arn:aws:events:REGION:ACCOUNT:event-bus/default."
  }
}

variable "create_role" {
  description = "Create the role the hub assumes. One instance per account does (any region: IAM is global); the others, in the account's other regions, set false and only forward."
  type        = bool
  default     = true
}

variable "forward_spot_events" {
  description = "Forward this region's Fargate Spot interruptions (of the account's clusters here) and EC2 Spot warnings to hub_event_bus_arn."
  type        = bool
  default     = true
}

variable "name" {
  description = "Prefix of the forwarding rules (NAME-fargate-spot, NAME-ec2-spot) and of their role (NAME-forward-REGION)."
  type        = string
  default     = "ecs-cost-saver"

  validation {
    # 38 so that NAME-forward-REGION (an IAM role) stays within 64 characters.
    condition     = can(regex("^[a-zA-Z0-9_-]{1,38}$", var.name))
    error_message = "name must be 1-38 characters of letters, digits, - and _."
  }
}

variable "tags" {
  description = "Tags for every resource that takes tags."
  type        = map(string)
  default     = {}
}
