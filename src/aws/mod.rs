//! The AWS layer: partitions and ARNs, classified errors, policy documents. Resources call the
//! SDK clients from [`crate::provider::ProviderData`] directly and map every error through
//! [`error::aws_error`].

pub mod arn;
pub mod error;
pub mod partition;
pub mod policy;

pub use arn::{Arn, ArnError, OidcProviderArn, issuer_in_place_of_arn};
pub use error::{AwsError, AwsErrorKind, NotFoundAsNone, aws_error};
pub use partition::Partition;
