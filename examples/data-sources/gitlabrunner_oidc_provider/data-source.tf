# The cluster's IAM OIDC provider, found by the cluster's issuer URL (on EKS:
# `aws eks describe-cluster --name NAME --query cluster.identity.oidc.issuer`, or
# aws_eks_cluster.this.identity[0].oidc[0].issuer).
data "gitlabrunner_oidc_provider" "cluster" {
  url = "https://oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
}

# The same provider, found by its ARN.
data "gitlabrunner_oidc_provider" "by_arn" {
  arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
}

# A binding whose role trusts that provider.
resource "gitlabrunner_irsa_binding" "manager" {
  namespace            = "gitlab-runner"
  service_account_name = "gitlab-runner"
  oidc_provider_arn    = data.gitlabrunner_oidc_provider.cluster.arn

  grant {
    namespace = "ci-jobs"
    preset    = "kubernetes-executor"
  }
}

# The condition keys a trust policy for this cluster uses, e.g.
# oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub
output "trust_condition_keys" {
  value = [
    "${data.gitlabrunner_oidc_provider.cluster.issuer_host_path}:sub",
    "${data.gitlabrunner_oidc_provider.cluster.issuer_host_path}:aud",
  ]
}

# IRSA needs sts.amazonaws.com among the provider's client ids (audiences).
output "accepts_sts_audience" {
  value = contains(data.gitlabrunner_oidc_provider.cluster.client_ids, "sts.amazonaws.com")
}
