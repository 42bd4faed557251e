variable "schedule_file" {
  description = "Path to the schedule YAML (schedules/*.yaml): the same file that is packaged with the Lambda."
  type        = string

  validation {
    condition     = fileexists(var.schedule_file)
    error_message = "schedule_file: no such file: ${var.schedule_file}."
  }
}
