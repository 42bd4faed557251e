# Provider-free on purpose: `terraform test` checks the Spot event patterns offline.
terraform {
  required_version = ">= 1.6"
}
