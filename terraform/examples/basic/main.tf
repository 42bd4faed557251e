# The module with the repository's example schedule. From the repository root:
#
#   bash scripts/package schedules/example.yaml            # -> dist/ecs-cost-saver-arm64.zip
#   cd terraform/examples/basic
#   terraform init
#   terraform apply -var region=ap-northeast-1
#
# For another schedule file, package that file and pass -var schedule_file=PATH (relative to
# this directory).

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

variable "region" {
  description = "AWS region of the ECS clusters."
  type        = string
  default     = "ap-northeast-1"
}

variable "schedule_file" {
  description = "The schedule YAML, the same file that was packaged."
  type        = string
  default     = "../../../schedules/example.yaml"
}

variable "architecture" {
  description = "arm64, or x86_64 for a package built with --x86_64."
  type        = string
  default     = "arm64"
}

provider "aws" {
  region = var.region
}

module "ecs_cost_saver" {
  source = "../.."

  schedule_file = var.schedule_file
  lambda_zip    = "${path.root}/../../../dist/ecs-cost-saver-${var.architecture}.zip"
  architecture  = var.architecture

  # Notifications are off until you name where they go: e-mail addresses (a topic is created
  # for them; each address confirms a mail from AWS first) or your own topic, not both.
  # notification_emails = ["sre@example.com"]
  # sns_topic_arn       = "arn:aws:sns:ap-northeast-1:123456789012:ops-alerts"
  # notify_on_start     = true # also a message when a start is ready
  #
  # Alarms and the dashboard are on by default ($0.10 a month per alarm, $3 per dashboard
  # beyond the account's first three):
  # create_alarms             = true
  # create_missed_stop_alarms = true
  # create_dashboard          = true

  tags = {
    project = "ecs-cost-saver"
  }
}

output "function_arn" {
  value = module.ecs_cost_saver.function_arn
}

output "schedule_names" {
  value = module.ecs_cost_saver.schedule_names
}

output "dlq_url" {
  value = module.ecs_cost_saver.dlq_url
}

output "log_group_names" {
  value = module.ecs_cost_saver.log_group_names
}

output "notification_topic_arn" {
  value = module.ecs_cost_saver.notification_topic_arn
}

output "alarm_names" {
  value = module.ecs_cost_saver.alarm_names
}

output "missed_stop_alarm_skipped" {
  value = module.ecs_cost_saver.missed_stop_alarm_skipped
}

output "dashboard_url" {
  value = module.ecs_cost_saver.dashboard_url
}
