# A binding is imported by its ServiceAccount, NAMESPACE/SERVICE_ACCOUNT_NAME. The provider
# finds the role through the ServiceAccount's eks.amazonaws.com/role-arn annotation, and the
# grants through the RoleBindings that carry the binding's ownership marks.
terraform import gitlabrunner_irsa_binding.manager gitlab-runner/gitlab-runner
