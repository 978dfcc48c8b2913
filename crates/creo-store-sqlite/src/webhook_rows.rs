//! Webhook endpoints, their delivery logs and AI generations on SQLite, each row's details as
//! JSON (they are read whole, never queried inside).

use creo_store::StoreError;

pub(super) fn decode<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Corrupt(e.to_string()))
}
