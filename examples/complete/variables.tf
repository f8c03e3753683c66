variable "cluster_name" {
  description = "Names the IAM roles (role names are unique per AWS account, so two clusters need two names)."
  type        = string
  default     = "example"
}

variable "kubernetes_context" {
  description = "Context of the kubeconfig to use; null for its current context."
  type        = string
  default     = null
}

variable "runner_namespace" {
  description = "Namespace of the runner manager (the Helm release's namespace). It must exist."
  type        = string
  default     = "gitlab-runner"
}

variable "job_namespace" {
  description = "Namespace where the runner starts job pods. It must exist."
  type        = string
  default     = "gitlab-jobs"
}

variable "cache_bucket_name" {
  description = "Name of the S3 cache bucket the example creates; null for gitlab-runner-cache-ACCOUNT_ID-CLUSTER_NAME."
  type        = string
  default     = null
}

variable "identity_mode" {
  description = "How the runner's pods get their AWS credentials: \"irsa\" (IAM roles for service accounts: the cluster's OIDC provider and the ServiceAccount annotation), \"pod_identity\" (EKS Pod Identity associations; the cluster needs the eks-pod-identity-agent add-on), or \"both\" while moving from one to the other (docs/guides/migrate-to-pod-identity.md)."
  type        = string
  default     = "irsa"

  validation {
    condition     = contains(["irsa", "both", "pod_identity"], var.identity_mode)
    error_message = "identity_mode must be \"irsa\", \"both\" or \"pod_identity\"."
  }
}

variable "eks_cluster_name" {
  description = "Name of the EKS cluster the Pod Identity associations are made in (identity_mode \"both\" or \"pod_identity\"); null for cluster_name."
  type        = string
  default     = null
}
