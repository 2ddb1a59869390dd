# Run once per environment with its tfvars (tests/terraform/ passes -var-file=envs/<env>/terraform.tfvars):
# every environment plans, with the same guarantees whatever its variables. The stand-in provider
# validates every planned value as the real provider and APIs would (terraform/checks/
# standin_provider/validation.py), so a name derived from the environment that Google would
# refuse (a service-account id ending in '-') fails here.

mock_provider "google" {
  mock_resource "google_cloudfunctions2_function" {
    defaults = { service_config = { uri = "https://fn-abc.a.run.app", service = "projects/mock-project/locations/europe-west1/services/fn-service" } }
  }
  mock_resource "google_service_account" {
    defaults = { email = "mock@mock-project.iam.gserviceaccount.com", member = "serviceAccount:mock@mock-project.iam.gserviceaccount.com" }
  }
  mock_data "google_project" {
    defaults = { number = "123456789012" }
  }
}

mock_provider "time" {}

run "environment_plans" {
  command = apply

  assert {
    condition     = length(output.topics) == 3 && length(output.dead_letter_subscriptions) == 3
    error_message = "every environment has the three topics and their dead-letter subscriptions"
  }
  assert {
    condition     = alltrue([for n in values(output.max_instances) : n >= 1])
    error_message = "every delivery function may run at least one instance"
  }
  assert {
    condition     = length(output.secrets) == 5
    error_message = "the five secret containers exist"
  }
}
