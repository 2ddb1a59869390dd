mock_provider "google" {}

override_resource {
  target = google_service_account.deployer
  values = { email = "cio-staging-deployer@acme-customerio-stg.iam.gserviceaccount.com", member = "serviceAccount:cio-staging-deployer@acme-customerio-stg.iam.gserviceaccount.com", id = "projects/acme-customerio-stg/serviceAccounts/cio-staging-deployer@acme-customerio-stg.iam.gserviceaccount.com" }
}
override_resource {
  target = google_service_account.planner
  values = { email = "cio-staging-plan@acme-customerio-stg.iam.gserviceaccount.com", member = "serviceAccount:cio-staging-plan@acme-customerio-stg.iam.gserviceaccount.com", id = "projects/acme-customerio-stg/serviceAccounts/cio-staging-plan@acme-customerio-stg.iam.gserviceaccount.com" }
}

variables {
  project_id  = "acme-customerio-stg"
  environment = "staging"
}

run "state_bucket_and_accounts" {
  command = apply
  assert {
    condition     = output.backend_config == { bucket = "acme-customerio-stg-tfstate", prefix = "customerio-gcp" }
    error_message = "each environment's state lives in its own project's bucket"
  }
  assert {
    condition     = google_storage_bucket.state.versioning[0].enabled && google_storage_bucket.state.public_access_prevention == "enforced"
    error_message = "state is versioned and never public"
  }
  assert {
    condition     = google_storage_bucket_iam_member.planner_state.role == "roles/storage.objectViewer" && google_storage_bucket_iam_member.planner_state.member == "serviceAccount:cio-staging-plan@acme-customerio-stg.iam.gserviceaccount.com"
    error_message = "the plan-only account reads the state and cannot change it"
  }
  assert {
    condition     = alltrue([for g in google_project_iam_member.planner : g.member == "serviceAccount:cio-staging-plan@acme-customerio-stg.iam.gserviceaccount.com" && !strcontains(g.role, "admin") && !strcontains(g.role, "editor")])
    error_message = "the plan-only account holds no admin or editor role"
  }
  assert {
    condition     = contains(keys(google_project_service.bootstrap), "cloudresourcemanager.googleapis.com") && contains(keys(google_project_service.bootstrap), "serviceusage.googleapis.com")
    error_message = "Resource Manager and Service Usage are enabled before terraform/ plans"
  }
}

run "rejects_an_admin_role_for_the_planner" {
  command = plan
  variables { planner_roles = ["roles/pubsub.admin"] }
  expect_failures = [var.planner_roles]
}

run "rejects_basic_roles_for_the_deployer" {
  command = plan
  variables { deployer_roles = ["roles/editor"] }
  expect_failures = [var.deployer_roles]
}
