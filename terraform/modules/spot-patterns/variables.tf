variable "cluster_arns" {
  description = "The clusters whose Fargate Spot interruptions the rules match (any accounts and regions)."
  type        = list(string)
}
