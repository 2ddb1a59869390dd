output "ids" {
  description = "Secret ids by key, as the functions' *_SECRET environment variables expect."
  value       = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
}
