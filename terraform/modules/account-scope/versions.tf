# Provider-free on purpose: `terraform test` checks one account's scope offline.
terraform {
  required_version = ">= 1.6"
}
