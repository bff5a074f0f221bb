//! Secrets at rest: AES-256-GCM encryption of users' GitHub tokens with a key from a file or env.
