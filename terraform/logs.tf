# One log group per function, created here (not by Lambda on first run) so it has a retention
# and is deleted with the stack. The functions log in JSON (lambda.tf); each invocation's report
# is one JSON line, so CloudWatch Logs Insights can query its fields directly.

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest already; a customer-managed KMS key would add a key policy and a monthly cost for logs that hold service names and counts, no secrets.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "spot" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest already; a customer-managed KMS key would add a key policy and a monthly cost for logs that hold service names and counts, no secrets.
  name              = "/aws/lambda/${local.spot_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}
