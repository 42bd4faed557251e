variable "schedule_file" {
  description = "The schedule YAML (schedules/*.yaml). Must be the file the package was built with (`bash scripts/package FILE`): the function reads its copy inside the zip, Terraform this one."
  type        = string
}

variable "lambda_zip" {
  description = "The package built by scripts/package, e.g. dist/ecs-cost-saver-arm64.zip (bootstrap + schedule.yaml)."
  type        = string
}

variable "function_name" {
  description = "Name of the Lambda function; also names the Spot function (NAME-spot), the roles, the schedule groups (NAME, NAME-overrides), the Spot rules (NAME-fargate-spot, NAME-ec2-spot), the DLQ (NAME-dlq) and the log groups."
  type        = string
  default     = "ecs-cost-saver"

  validation {
    # 51 so that the longest derived name, NAME-fargate-spot (an EventBridge rule), stays
    # within the 64 characters that rules, roles, functions and schedule groups allow.
    condition     = can(regex("^[a-zA-Z0-9_-]{1,51}$", var.function_name))
    error_message = "function_name must be 1-51 characters of letters, digits, - and _."
  }
}

variable "architecture" {
  description = "Lambda architecture: arm64 (cheaper per GB-second) or x86_64. Must match the package (scripts/package --arm64 | --x86_64)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory of each function, in MB."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout of the stop/start function, in seconds. A start waits for the tasks to run and registers them until this deadline (minus ECS_COST_SAVER_SAFETY_MARGIN_MS), so give it a few minutes. With AWS's default request rates, 300 s fits a stop of about 1,500 services and a start of about 1,200 (900 s: 4,500 and 4,200); larger environments are finished by continuation runs (README, Performance)."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 30 && var.timeout <= 900
    error_message = "timeout must be between 30 and 900 seconds."
  }
}

variable "spot_timeout" {
  description = "Timeout of the Spot function, in seconds. A deregistration is a few API calls; the 2-minute interruption warning bounds how long it can usefully take."
  type        = number
  default     = 60

  validation {
    condition     = var.spot_timeout >= 10 && var.spot_timeout <= 900
    error_message = "spot_timeout must be between 10 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the stop/start function. 1 (the default) runs stop, start, reconcile and manual invocations one at a time: see lambda.tf. -1 reserves nothing (needed in accounts whose concurrency quota is too small to reserve any) and lets runs overlap."
  type        = number
  default     = 1

  validation {
    condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be -1 (no reservation) or at least 1; 0 would stop the function from ever running."
  }
}

variable "spot_reserved_concurrency" {
  description = "Reserved concurrency of the Spot function: enough that a burst of interruptions is handled at once, bounded so a storm cannot take the account's whole concurrency. -1 reserves nothing."
  type        = number
  default     = 10

  validation {
    condition     = var.spot_reserved_concurrency == -1 || var.spot_reserved_concurrency >= 1
    error_message = "spot_reserved_concurrency must be -1 (no reservation) or at least 1."
  }
}

variable "max_event_age_seconds" {
  description = "How late a scheduled (or retried) stop/start may still run. An older event goes to the DLQ instead, so a start delayed past the evening's stop cannot wake the environment at night."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_event_age_seconds >= 60 && var.max_event_age_seconds <= 21600
    error_message = "max_event_age_seconds must be between 60 and 21600 (Lambda's limit for asynchronous events)."
  }
}

variable "spot_events" {
  description = "Create the EventBridge rules that send Fargate Spot task interruptions and EC2 Spot interruption warnings to the Spot function."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups. Each invocation logs one JSON report line, so a year costs little and keeps an audit trail of every stop and start."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "settings" {
  description = "Extra environment variables for both functions, e.g. { ECS_COST_SAVER_CONCURRENCY = \"4\", ECS_COST_SAVER_POLL_INTERVAL_MS = \"3000\" } (see the README's settings)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for every resource that takes tags."
  type        = map(string)
  default     = {}
}

variable "state_table_kms_key_arn" {
  description = "A customer managed KMS key for the state table (NAME-state). Null (the default): DynamoDB's AWS owned key."
  type        = string
  default     = null
}

variable "state_table_deletion_protection" {
  description = "Refuse to delete the state table (NAME-state), whose snapshots a stopped environment needs to start again. Set false before `terraform destroy`."
  type        = bool
  default     = true
}

# --- Notifications, alarms and the dashboard (notifications.tf, alarms.tf, dashboard.tf) ---

variable "notification_emails" {
  description = "E-mail addresses to notify when a run fails for good (and, with notify_on_start, when a start is ready). Creates an SNS topic (NAME-notifications) with one e-mail subscription each; every address gets a confirmation mail first. Empty (the default) and no sns_topic_arn: no notifications."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "notification_emails must be e-mail addresses (name@example.com)."
  }
}

variable "sns_topic_arn" {
  description = "An existing standard SNS topic to notify instead of notification_emails (not both). Its policy must let EventBridge and CloudWatch publish: see the output notification_topic_policy."
  type        = string
  default     = null

  validation {
    condition     = var.sns_topic_arn == null || can(regex("^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.sns_topic_arn))
    error_message = "sns_topic_arn must be the ARN of a standard (not FIFO) SNS topic, arn:aws:sns:REGION:ACCOUNT:NAME."
  }
}

variable "notify_on_start" {
  description = "Also notify when a scheduled (asynchronous) start is ready: every task RUNNING and registered, with its time to ready. Needs notification_emails or sns_topic_arn."
  type        = bool
  default     = false
}

variable "create_alarms" {
  description = "Create the CloudWatch alarms: each function's errors, messages in the DLQ, and a missed-stop alarm per environment (see create_missed_stop_alarms). They notify the topic when there is one. $0.10 a month each."
  type        = bool
  default     = true
}

variable "create_missed_stop_alarms" {
  description = "With create_alarms: one alarm per environment that goes off when a scheduled stop was not followed by a successful one within the grace (ceil((max_event_age_seconds + timeout) / 3600) hours). Environments whose crons or time zone it cannot read get none: see the output missed_stop_alarm_skipped."
  type        = bool
  default     = true
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard NAME: per environment the services stopped, started and failed, the time to ready, the saving per hour; the functions' errors and duration and the DLQ. $3 a month beyond the account's first three dashboards."
  type        = bool
  default     = true
}
