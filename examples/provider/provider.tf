terraform {
  required_providers {
    gitlabrunner = {
      source  = "gitlabrunner/gitlabrunner"
      version = "~> 0.1"
    }
  }
}

# Credentials come from the standard AWS chain and the kubeconfig; everything here is optional.
provider "gitlabrunner" {
  aws {
    region = "eu-central-1"
  }

  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "prod-eks"
  }

  # The cluster's IAM OIDC provider, used by every binding that does not name its own.
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"

  default_tags = {
    team = "platform"
  }
}
