variable "schedule" {
  description = "The schedules module (modules/schedules) of the schedule file: its accounts, service_entries, selector_entries, cluster_entries and autoscaling_group_entries."
  type = object({
    accounts = map(object({
      role_arn    = string
      external_id = string
      account_id  = string
    }))
    service_entries = list(object({
      environment = string
      cluster     = string
      service     = string
      account     = string
      region      = string
    }))
    selector_entries = list(object({
      environment = string
      cluster     = string
      account     = string
      region      = string
    }))
    cluster_entries = list(object({
      account = string
      region  = string
      cluster = string
    }))
    autoscaling_group_entries = list(object({
      environment = string
      name        = string
      account     = string
      region      = string
    }))
  })
}

variable "account" {
  description = "The key in the file's `accounts` of the account to scope, or null for the hub (the function's own account, whose entries name no `account`)."
  type        = string
  default     = null
}

variable "account_id" {
  description = "With account = null: the hub's 12-digit account id. A target account's comes from its role_arn; leave this null then."
  type        = string
  default     = null

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "partition" {
  description = "The AWS partition of the ARNs (aws, aws-cn, aws-us-gov)."
  type        = string
  default     = "aws"

  validation {
    condition     = can(regex("^aws[a-z-]*$", var.partition))
    error_message = "partition must be aws, aws-cn, aws-us-gov or another aws-* partition."
  }
}

variable "default_region" {
  description = "The hub function's region: where the entries that name no `region` live."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", var.default_region))
    error_message = "default_region must be an AWS region name such as ap-northeast-1."
  }
}
