terraform {
  required_version = ">= 1.5"

  required_providers {
    gitlabrunner = {
      source  = "gitlabrunner/gitlabrunner"
      version = "~> 0.1"
    }
  }
}

# AWS credentials and region come from the environment (AWS_PROFILE, AWS_REGION, SSO, ...), the
# cluster from the kubeconfig (KUBECONFIG or ~/.kube/config; on EKS written by
# `aws eks update-kubeconfig --name NAME`).
provider "gitlabrunner" {
  kubernetes {
    config_context = var.kubernetes_context
  }

  default_tags = {
    "gitlab-runner/cluster" = var.cluster_name
  }
}
