# The dashboard: what an SRE looks at instead of the logs. A top row for the functions (errors,
# duration, the DLQ, the alarms), then one row per environment from the EMF metrics the runs
# emit (namespace EcsCostSaver, dimensions Environment and Action), then the Spot events.

locals {
  namespace = "EcsCostSaver"

  # The function and DLQ alarms, by the key the root module creates them with.
  base_alarm_names = {
    errors       = "${var.function_name}-errors"
    spot-errors  = "${var.function_name}-spot-errors"
    dlq-messages = "${var.function_name}-dlq-messages"
  }
  alarm_names = concat(
    var.create_alarms ? [for key in ["errors", "spot-errors", "dlq-messages"] : local.base_alarm_names[key]] : [],
    var.create_alarms && var.missed_stop_alarms ? [for env in sort(keys(local.missed_stop_alarms)) : local.missed_stop_alarms[env].name] : [],
  )
  alarm_arns = [for name in local.alarm_names : "arn:${var.partition}:cloudwatch:${var.region}:${var.account}:alarm:${name}"]

  # Hourly points: runs happen a few times a day, so a week reads as bars of stops and starts.
  graph_defaults = {
    region  = var.region
    view    = "timeSeries"
    stacked = false
    period  = 3600
  }

  function_widgets = [
    {
      type   = "metric"
      x      = 0
      y      = 0
      width  = 6
      height = 6
      properties = merge(local.graph_defaults, {
        title  = "Function errors"
        stat   = "Sum"
        period = 300
        metrics = [
          ["AWS/Lambda", "Errors", "FunctionName", var.function_name, { label = "stop/start errors" }],
          ["AWS/Lambda", "Errors", "FunctionName", var.spot_function_name, { label = "Spot errors" }],
          ["AWS/Lambda", "Throttles", "FunctionName", var.function_name, { label = "stop/start throttles" }],
          ["AWS/Lambda", "DestinationDeliveryFailures", "FunctionName", var.function_name, { label = "notifications not delivered" }],
        ]
      })
    },
    {
      type   = "metric"
      x      = 6
      y      = 0
      width  = 6
      height = 6
      properties = merge(local.graph_defaults, {
        title  = "Function duration (ms)"
        stat   = "Maximum"
        period = 300
        metrics = [
          ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { label = "stop/start, longest" }],
          ["AWS/Lambda", "Duration", "FunctionName", var.spot_function_name, { label = "Spot, longest" }],
        ]
      })
    },
    {
      type   = "metric"
      x      = 12
      y      = 0
      width  = 6
      height = 6
      properties = merge(local.graph_defaults, {
        title  = "Dead-letter queue: messages waiting"
        stat   = "Maximum"
        period = 300
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name, { label = var.dlq_name }],
        ]
      })
    },
  ]

  alarm_widget = length(local.alarm_arns) == 0 ? [] : [
    {
      type   = "alarm"
      x      = 18
      y      = 0
      width  = 6
      height = 6
      properties = {
        title  = "Alarms"
        alarms = local.alarm_arns
      }
    },
  ]

  # Each environment: a heading and three graphs, 7 units high in all.
  environment_widgets = flatten([
    for index, env in var.environments : [
      {
        type   = "text"
        x      = 0
        y      = 6 + index * 7
        width  = 24
        height = 1
        properties = {
          markdown = "### ${env}${contains(keys(local.missed_stop_alarms), env) ? "" : " (no missed-stop alarm: ${lookup(local.missed_stop_skipped, env, "")})"}"
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 7 + index * 7
        width  = 8
        height = 6
        properties = merge(local.graph_defaults, {
          title = "${env}: services stopped, started, failed"
          stat  = "Sum"
          metrics = [
            [local.namespace, "ServicesChanged", "Environment", env, "Action", "stop", { label = "stopped" }],
            [local.namespace, "ServicesChanged", "Environment", env, "Action", "start", { label = "started" }],
            [local.namespace, "ServicesFailed", "Environment", env, "Action", "stop", { label = "failed on stop" }],
            [local.namespace, "ServicesFailed", "Environment", env, "Action", "start", { label = "failed on start" }],
          ]
        })
      },
      {
        type   = "metric"
        x      = 8
        y      = 7 + index * 7
        width  = 8
        height = 6
        properties = merge(local.graph_defaults, {
          title = "${env}: time to ready after a start (s)"
          stat  = "Maximum"
          metrics = [
            [{ expression = "ready / 1000", id = "seconds", label = "seconds until every task ran and was registered" }],
            [local.namespace, "TimeToReadyMs", "Environment", env, "Action", "start", { id = "ready", visible = false }],
          ]
        })
      },
      {
        type   = "metric"
        x      = 16
        y      = 7 + index * 7
        width  = 8
        height = 6
        properties = merge(local.graph_defaults, {
          title = "${env}: saving per hour while stopped"
          stat  = "Maximum"
          metrics = [
            [local.namespace, "SavedCostPerHour", "Environment", env, "Action", "stop", { label = "${var.currency} per hour" }],
            [local.namespace, "SavedVcpuPerHour", "Environment", env, "Action", "stop", { label = "vCPU", yAxis = "right" }],
          ]
        })
      },
    ]
  ])

  spot_widgets = [
    {
      type   = "metric"
      x      = 0
      y      = 6 + length(var.environments) * 7
      width  = 24
      height = 6
      properties = merge(local.graph_defaults, {
        title = "Spot interruptions handled"
        stat  = "SampleCount"
        metrics = [
          [local.namespace, "RunSucceeded", "Environment", "spot", "Action", "spot-interruption", { label = "Fargate Spot task interruptions" }],
          [local.namespace, "RunSucceeded", "Environment", "spot", "Action", "spot-instance-warning", { label = "EC2 Spot instance warnings" }],
          [local.namespace, "ServicesFailed", "Environment", "spot", "Action", "spot-interruption", { label = "failed (Fargate)", stat = "Sum" }],
          [local.namespace, "ServicesFailed", "Environment", "spot", "Action", "spot-instance-warning", { label = "failed (EC2)", stat = "Sum" }],
        ]
      })
    },
  ]

  dashboard_widgets = concat(local.function_widgets, local.alarm_widget, local.environment_widgets, local.spot_widgets)
}
