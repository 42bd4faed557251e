# Provider-free on purpose: `terraform test` checks the YAML -> schedules transformation offline.
terraform {
  required_version = ">= 1.6"
}
