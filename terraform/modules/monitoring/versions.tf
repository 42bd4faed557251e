# Provider-free on purpose: `terraform test` checks the notification rules, the missed-stop
# alarm's cron arithmetic and the dashboard offline.
terraform {
  required_version = ">= 1.6"
}
