# Offline: this module has no provider.

run "the_fargate_pattern_names_the_clusters_and_the_interruption_stop_codes" {
  command = plan

  variables {
    cluster_arns = ["arn:aws:ecs:ap-northeast-1:111111111111:cluster/web", "arn:aws:ecs:ap-northeast-3:222222222222:cluster/web"]
  }

  assert {
    condition     = keys(output.patterns) == ["ec2-spot", "fargate-spot"]
    error_message = "patterns: ${jsonencode(keys(output.patterns))}"
  }

  assert {
    condition = jsondecode(output.patterns["fargate-spot"]) == jsondecode(jsonencode({
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Task State Change"]
      detail = {
        clusterArn    = ["arn:aws:ecs:ap-northeast-1:111111111111:cluster/web", "arn:aws:ecs:ap-northeast-3:222222222222:cluster/web"]
        desiredStatus = ["STOPPED"]
        lastStatus    = [{ "anything-but" = "STOPPED" }]
        "$or" = [
          { stopCode = ["SpotInterruption", "TerminationNotice"] },
          { stoppedReason = [{ prefix = "Your Spot Task was interrupted" }] },
        ]
      }
    }))
    error_message = "fargate-spot: ${output.patterns["fargate-spot"]}"
  }

  assert {
    condition     = output.patterns["ec2-spot"] == "{\"detail-type\":[\"EC2 Spot Instance Interruption Warning\"],\"source\":[\"aws.ec2\"]}"
    error_message = "ec2-spot: ${output.patterns["ec2-spot"]}"
  }
}

run "without_clusters_only_the_ec2_pattern" {
  command = plan

  variables {
    cluster_arns = []
  }

  assert {
    condition     = keys(output.patterns) == ["ec2-spot"]
    error_message = "patterns: ${jsonencode(keys(output.patterns))}"
  }
}
