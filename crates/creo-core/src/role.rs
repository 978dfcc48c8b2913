//! A member's role in an account, and what each may do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Editor,
    Commenter,
    Viewer,
}

impl Role {
    /// Owners, admins and editors change document content; commenters and viewers only read it
    /// and publish presence.
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Admin | Role::Editor)
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "editor" => Role::Editor,
            "commenter" => Role::Commenter,
            "viewer" => Role::Viewer,
            _ => return None,
        })
    }

    /// Higher is more powerful: owner 4 … viewer 0.
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 4,
            Role::Admin => 3,
            Role::Editor => 2,
            Role::Commenter => 1,
            Role::Viewer => 0,
        }
    }

    /// Owners and admins manage members, keys, billing and the audit log.
    pub fn can_manage(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Commenter => "commenter",
            Role::Viewer => "viewer",
        }
    }
}
