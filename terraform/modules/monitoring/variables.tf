variable "schedules" {
  description = "The schedules module's `schedules` output: one entry per cron with environment, action and expression (cron(...))."
  type = map(object({
    environment = string
    action      = string
    expression  = string
  }))
}

variable "environments" {
  description = "Every environment of the schedule file, sorted (the schedules module's `environments`)."
  type        = list(string)
}

variable "timezone" {
  description = "The schedule's IANA time zone, in which the crons are evaluated."
  type        = string
}

variable "currency" {
  description = "The currency of SavedCostPerHour (the schedule file's pricing.currency), for the dashboard's labels."
  type        = string
  default     = "USD"
}

variable "function_name" {
  description = "Name of the stop/start function; prefixes the alarm and rule names."
  type        = string
}

variable "spot_function_name" {
  description = "Name of the Spot function."
  type        = string
}

variable "dlq_name" {
  description = "Name of the dead-letter queue."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, ...), for the ARNs this module builds."
  type        = string
  default     = "aws"
}

variable "region" {
  description = "AWS region of the functions and metrics."
  type        = string
}

variable "account" {
  description = "AWS account id of the functions and metrics."
  type        = string
}

variable "max_event_age_seconds" {
  description = "How long a scheduled event may wait in Lambda's queue (and be retried): with `timeout`, how late a stop can still succeed, which sets the missed-stop alarm's grace."
  type        = number
  default     = 3600
}

variable "timeout" {
  description = "Timeout of the stop/start function, in seconds."
  type        = number
  default     = 300
}

variable "notification_emails" {
  description = "E-mail addresses to notify; non-empty means a topic is created for them."
  type        = list(string)
  default     = []
}

variable "sns_topic_arn" {
  description = "An existing SNS topic to notify instead."
  type        = string
  default     = null
}

variable "notify_on_start" {
  description = "Also notify when a start is ready."
  type        = bool
  default     = false
}

variable "create_alarms" {
  description = "Whether the root module creates the CloudWatch alarms (the dashboard lists them only then)."
  type        = bool
  default     = true
}

variable "missed_stop_alarms" {
  description = "Whether the root module creates the missed-stop alarms (with create_alarms)."
  type        = bool
  default     = true
}
