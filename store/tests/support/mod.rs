//! Helpers shared by the store's integration tests that run its binary.

#![allow(dead_code)] // each test file uses part of them

pub mod http;
pub mod process;
