//! Taking access away: a revocation stands until an owner or admin lifts it; stored (so every
//! later request is refused) and announced on the bus (so every node closes the user's open
//! sockets at once). One type for both.

use serde::{Deserialize, Serialize};

/// A user's access to an account's documents (or to one of them) taken away by an owner or
/// admin. It stands until lifted: tokens issued before or after it are refused alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revocation {
    pub account_id: String,
    pub user_id: String,
    /// `None`: the whole account.
    pub doc_id: Option<String>,
    pub revoked_by: String,
    /// Milliseconds since the Unix epoch.
    pub revoked_at: i64,
}
