variable "project_id" {
  description = "Project that holds the secrets."
  type        = string
}

variable "prefix" {
  description = "Prefix of every secret id, e.g. \"customerio-dev\"."
  type        = string
  validation {
    condition     = length(regexall("^[a-zA-Z][a-zA-Z0-9_-]*$", var.prefix)) > 0
    error_message = "prefix must start with a letter and hold only letters, digits, '-' and '_'."
  }
}

variable "accessors" {
  description = "Who may read which secret: secret key (see outputs.ids) => { reader name => member }. Reader names are static keys, members may be known only after apply."
  type        = map(map(string))
  default     = {}
  validation {
    condition     = alltrue([for k in keys(var.accessors) : contains(["site_id", "track_api_key", "app_api_key", "webhook_signing_key", "webhook_signing_key_next"], k)])
    error_message = "accessors keys must be among site_id, track_api_key, app_api_key, webhook_signing_key, webhook_signing_key_next."
  }
}

variable "labels" {
  description = "Labels on every secret."
  type        = map(string)
  default     = {}
}
