variable "project_id" {
  description = "Project of the dataset."
  type        = string
}

variable "dataset_id" {
  description = "Dataset for Customer.io reporting events."
  type        = string
  validation {
    condition     = length(regexall("^[A-Za-z0-9_]+$", var.dataset_id)) > 0
    error_message = "dataset_id may hold only letters, digits and underscores."
  }
}

variable "location" {
  description = "Dataset location (US, EU, or a region); keep it in the Customer.io region's jurisdiction if that matters to you."
  type        = string
}

variable "table_id" {
  description = "The event table."
  type        = string
  default     = "events"
}

variable "schema_dir" {
  description = "Folder with events_table.json, events_unique.sql and delivery_funnel.sql: the files the code reads too."
  type        = string
}

variable "partition_expiration_days" {
  description = "Delete partitions older than this many days; null keeps them forever."
  type        = number
  default     = null
  validation {
    condition     = var.partition_expiration_days == null ? true : var.partition_expiration_days >= 1
    error_message = "partition_expiration_days must be at least 1, or null."
  }
}

variable "deletion_protection" {
  description = "Protect the table from terraform destroy."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on the dataset and tables."
  type        = map(string)
  default     = {}
}
