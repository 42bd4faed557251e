# The state table: the authoritative store of every stopped service's snapshot (its desired
# count, min/max and suspended scaling), keyed by ACCOUNT/REGION/CLUSTER/SERVICE. The function
# writes it only conditionally: a stop saves a snapshot only where none exists, and a run holds
# the entry while it writes a service's counts, so two runs at once cannot lose it
# (src/aws/table.rs). Unlike a tag on the service, the services' own Terraform never touches it.
resource "aws_dynamodb_table" "state" {
  #checkov:skip=CKV_AWS_119:The items are service names and task counts, no secrets; DynamoDB encrypts every table at rest with an AWS owned key, and a customer managed key (var.state_table_kms_key_arn) is there for accounts whose policy requires one.
  name                        = "${var.function_name}-state"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "service"
  deletion_protection_enabled = var.state_table_deletion_protection

  attribute {
    name = "service"
    type = "S"
  }

  # A deleted or overwritten snapshot can be read back from any second of the last 35 days.
  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = var.state_table_kms_key_arn != null
    kms_key_arn = var.state_table_kms_key_arn
  }

  tags = var.tags
}
