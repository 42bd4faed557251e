# The two EventBridge patterns of the Spot interruptions the Spot function handles
# (src/dispatch/spot.rs), in one place for both their users: the hub's rules (terraform/spot.tf)
# and the target accounts' forwarding rules (modules/target-account), which must match the same
# events or the hub would receive what it then ignores, or miss what it should handle.

locals {
  patterns = {
    # Fargate Spot: a task of one of the clusters being stopped for a Spot interruption, and not
    # yet stopped. Every service of those clusters is covered, not only the file's.
    fargate-spot = jsonencode({
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Task State Change"]
      detail = {
        clusterArn    = var.cluster_arns
        desiredStatus = ["STOPPED"]
        lastStatus    = [{ "anything-but" = "STOPPED" }]
        "$or" = [
          { stopCode = ["SpotInterruption", "TerminationNotice"] },
          { stoppedReason = [{ prefix = "Your Spot Task was interrupted" }] },
        ]
      }
    })
    # EC2 Spot: the warning names only the instance, so every warning of the account and region
    # matches; the function looks the instance up in the configured clusters and skips the rest.
    ec2-spot = jsonencode({
      source        = ["aws.ec2"]
      "detail-type" = ["EC2 Spot Instance Interruption Warning"]
    })
  }
}
