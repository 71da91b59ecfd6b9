//! Content keys, partial keys and scope external ids, identical to the reference connector.
