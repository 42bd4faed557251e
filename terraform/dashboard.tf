# The CloudWatch dashboard NAME (create_dashboard, on by default): what an SRE looks at instead
# of the logs. Its body is built and tested in modules/monitoring (dashboard.tf): the functions'
# errors and duration, the DLQ and the alarms on top, then one row per environment with the
# services stopped, started and failed, the time to ready and the saving per hour, then the
# Spot events.

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.function_name
  dashboard_body = module.monitoring.dashboard_body
}
