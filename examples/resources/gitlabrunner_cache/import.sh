# A cache is imported by the runner manager's role name and the bucket name. The cache path
# and the KMS key are recovered from the inline policy; create_bucket from the bucket's
# ownership tags.
terraform import gitlabrunner_cache.runner gitlab-runner-manager/example-gitlab-runner-cache

# When the inline policy has a name other than the default gitlabrunner-cache-BUCKET_NAME,
# add it as a third part.
terraform import gitlabrunner_cache.team gitlab-runner-manager/example-shared-build-cache/team-cache
