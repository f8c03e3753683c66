//! The AWS side of an acceptance run: the emulator, SDK clients for assertions, and the
//! fault-injecting proxy.

mod clients;
pub mod eks;
mod emulator;
pub mod proxy;
pub mod web_identity;

pub use clients::{AwsClients, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
pub use emulator::{AwsEmulator, EmulatorError, REGION};
