//! The store, as the server names it: the traits and `Stores` (`creo-store`), and the two
//! backends, `embedded` (`creo-store-sqlite`) and `scylla` (`creo-store-scylla`).

pub use creo_store::*;
pub use creo_store_scylla as scylla;
pub use creo_store_sqlite as embedded;
