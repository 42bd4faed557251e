# Hub and spoke: the hub module in the hub account (Tokyo), and the target-account module in
# account stg for each region its services are in (Tokyo and Osaka). From the repository root:
#
#   bash scripts/package examples/multi-account/schedule.yaml   # -> dist/ecs-cost-saver-arm64.zip
#   cd examples/multi-account
#   terraform init
#   terraform apply
#
# The default credentials act in the hub account; stg is reached by assuming a role there that
# may create IAM roles and EventBridge rules (var.stg_deploy_role_arn).

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

variable "stg_deploy_role_arn" {
  description = "A role in account stg that this Terraform may assume to create the target role and the forwarding rules there."
  type        = string
  default     = "arn:aws:iam::222222222222:role/terraform-deploy"
}

locals {
  schedule_file = "${path.root}/schedule.yaml"
  hub_region    = "ap-northeast-1"
}

# The hub account, in the functions' region.
provider "aws" {
  region = local.hub_region
}

# Account stg, once per region of its services.
provider "aws" {
  alias  = "stg_tokyo"
  region = "ap-northeast-1"

  assume_role {
    role_arn = var.stg_deploy_role_arn
  }
}

provider "aws" {
  alias  = "stg_osaka"
  region = "ap-northeast-3"

  assume_role {
    role_arn = var.stg_deploy_role_arn
  }
}

module "hub" {
  source = "../../terraform"

  schedule_file = local.schedule_file
  lambda_zip    = "${path.root}/../../dist/ecs-cost-saver-arm64.zip"

  tags = {
    project = "ecs-cost-saver"
  }
}

# Creates the role of `accounts.stg.role_arn` (IAM is global) and forwards Tokyo's Spot events.
module "stg_tokyo" {
  source    = "../../terraform/modules/target-account"
  providers = { aws = aws.stg_tokyo }

  schedule_file     = local.schedule_file
  account           = "stg"
  default_region    = local.hub_region
  hub_role_arns     = [module.hub.function_role_arn, module.hub.spot_role_arn]
  hub_event_bus_arn = module.hub.event_bus_arn

  tags = {
    project = "ecs-cost-saver"
  }
}

# Osaka: only the forwarding rules; the role is the one above.
module "stg_osaka" {
  source    = "../../terraform/modules/target-account"
  providers = { aws = aws.stg_osaka }

  schedule_file     = local.schedule_file
  account           = "stg"
  default_region    = local.hub_region
  hub_role_arns     = [module.hub.function_role_arn, module.hub.spot_role_arn]
  hub_event_bus_arn = module.hub.event_bus_arn
  create_role       = false

  tags = {
    project = "ecs-cost-saver"
  }
}

output "function_arn" {
  value = module.hub.function_arn
}

output "schedule_names" {
  value = module.hub.schedule_names
}

output "stg_role_arn" {
  value = module.stg_tokyo.role_arn
}

output "stg_forwarding_rules" {
  value = {
    "ap-northeast-1" = module.stg_tokyo.rule_names
    "ap-northeast-3" = module.stg_osaka.rule_names
  }
}
